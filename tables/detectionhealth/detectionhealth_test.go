package detectionhealth

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

func snapshots() map[string]Snapshot {
	start := time.Unix(1700000000, 0)
	healthy := Snapshot{
		Taken: start.Add(90 * time.Minute),
		Extension: Extension{Version: "0.1.0", StartedAt: start, HostID: "host-1", ConfigPath: "/etc/osquery/osqdetect.conf",
			CoreReachable: true, Registered: true, Registrations: 1, EventsExpiry: 3600},
		Sources: []Source{
			{Table: "process_events", EventsEnabled: true, RowsRead: 1200, RowsDelivered: 1190, Polls: 2700,
				LastPoll: start.Add(90*time.Minute - time.Second), Cursor: 1700005398, LagSeconds: 2},
			{Table: "socket_events", EventsEnabled: true, RowsRead: 300, RowsDelivered: 300, Polls: 2700,
				LastPoll: start.Add(90*time.Minute - time.Second), Cursor: 1700005398, LagSeconds: 2},
		},
		Engine: Engine{RulesEnabled: 2, EventsProcessed: 1490, AlertsEmitted: 3, PendingSequences: 1, ProcessCacheSize: 812, Terms: 40},
		Store:  Store{Path: "/var/osquery/osqdetect/osqdetect.db", Alerts: 3, SizeBytes: 65536, Commits: 2700, Durable: "every poll commits its alerts with the cursor"},
		Tables: []tablewrap.Stats{{Table: "alerts", Calls: 4, Rows: 9}},
	}
	troubled := healthy
	troubled.Extension.Registered = false
	troubled.Extension.Registrations = 3
	troubled.Warnings = []string{"socket_events: audit_allow_sockets is false; network rules see no events"}
	troubled.Sources = []Source{
		{Table: "process_events", EventsEnabled: true, Errors: 2, LastError: "query timed out", LagSeconds: 2000,
			StalledSince: start.Add(90*time.Minute - 45*time.Second), StallReason: "polling fails: query timed out"},
		{Table: "socket_events", EventsEnabled: false, EventsProblem: "--audit_allow_sockets=false",
			Quarantined: 1, LastQuarantine: "socket_events row eid \"0000000007\" quarantined: time 32503680000 (3000-01-01T00:00:00Z) is ..."},
	}
	troubled.Engine.RulesRejected = 1
	troubled.Engine.RowsRejected = 5
	troubled.Engine.LastRejectReason = "process_events row: pid \"x\" is not a number"
	troubled.Engine.AlertsSuppressed = 7
	troubled.Store.Recovered = true
	troubled.Store.RecoveryReason = "state store was unusable (cannot open: invalid database); moved it aside"
	troubled.Store.RestoreError = "restoring the process cache: slot 3 out of range or repeated"
	troubled.Tables = []tablewrap.Stats{{Table: "alerts", Calls: 5, Errors: 1, Timeouts: 1, LastError: "alerts: table read timed out (limit 30s)"}}
	return map[string]Snapshot{"healthy": healthy, "troubled": troubled, "empty": {}}
}

func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	for name, snap := range snapshots() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tbl := New(func(context.Context) (Snapshot, error) { return snap, nil }, tablewrap.Options{})
			req := osquery.ExtensionPluginRequest{"action": "generate", "context": `{"constraints":[{"name":"status","list":[{"op":2,"expr":"error"}],"affinity":"TEXT"}],"colsUsed":["status"],"colsUsedBitset":16}`}
			resp := tbl.Plugin().Call(context.Background(), req)
			if resp.Status.Code != 0 {
				t.Fatalf("status = %+v", resp.Status)
			}
			for _, row := range resp.Response {
				if len(row) != len(Spec().Columns) {
					t.Fatalf("row %v has %d columns, spec %d", row, len(row), len(Spec().Columns))
				}
				switch row["status"] {
				case StatusOK, StatusWarning, StatusError:
				default:
					t.Errorf("row %v has status %q", row, row["status"])
				}
			}
			got, _ := json.MarshalIndent(map[string]any{"request": req, "status": resp.Status, "rows": resp.Response}, "", "  ")
			testutil.Golden(t, filepath.Join("testdata", name+".golden.json"), append(got, '\n'))
		})
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	find := func(rows []map[string]string, component, subject, metric string) map[string]string {
		for _, r := range rows {
			if r["component"] == component && r["subject"] == subject && r["metric"] == metric {
				return r
			}
		}
		t.Fatalf("no row %s/%s/%s", component, subject, metric)
		return nil
	}
	rows := Rows(snapshots()["troubled"])
	for _, tt := range []struct{ component, subject, metric, status, value string }{
		{"extension", "", "registered", StatusError, "0"},
		{"extension", "", "uptime_seconds", StatusOK, "5400"},
		{"source", "socket_events", "events_enabled", StatusError, "0"},
		{"source", "process_events", "lag_seconds", StatusWarning, "2000"},
		{"source", "process_events", "errors", StatusWarning, "2"},
		{"engine", "", "rows_rejected", StatusWarning, "5"},
		{"store", "", "recovered", StatusWarning, "1"},
		{"table", "alerts", "timeouts", StatusWarning, "1"},
	} {
		r := find(rows, tt.component, tt.subject, tt.metric)
		if r["status"] != tt.status || r["value"] != tt.value {
			t.Errorf("%s/%s/%s = %v, want value %s status %s", tt.component, tt.subject, tt.metric, r, tt.value, tt.status)
		}
	}
	for _, r := range Rows(snapshots()["healthy"]) {
		if r["status"] != StatusOK {
			t.Errorf("healthy snapshot has %v", r)
		}
	}
	lagging := snapshots()["healthy"]
	lagging.Sources = []Source{{Table: "process_events", EventsEnabled: true, LagSeconds: 3600}}
	if r := find(Rows(lagging), "source", "process_events", "lag_seconds"); r["status"] != StatusError {
		t.Errorf("lag beyond events_expiry: %v", r)
	}
}

func TestSnapshotError(t *testing.T) {
	t.Parallel()
	tbl := New(func(context.Context) (Snapshot, error) { return Snapshot{}, errors.New("starting") }, tablewrap.Options{})
	resp := tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": "{}"})
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "reading health: starting") {
		t.Errorf("status = %+v", resp.Status)
	}
}
