// Package detectionhealth is the osquery `detection_health` table: the
// detection pipeline's own numbers, one metric per row.
//
// Columns: component, subject, metric, value, status, detail.
//
//	component  extension | source | engine | store | table
//	subject    the event table (source) or served table (table); empty otherwise
//	metric     snake_case name, e.g. rows_read, lag_seconds, alerts_emitted
//	value      the number (or text) as a string; CAST(value AS INTEGER) to compare
//	status     ok | warning | error: error means detections are being missed
//	detail     a sentence: the last error, the reason, what to change
//
// Typical queries:
//
//	SELECT * FROM detection_health WHERE status != 'ok';
//	SELECT subject, value FROM detection_health WHERE metric = 'lag_seconds';
//	SELECT value FROM detection_health WHERE component = 'engine' AND metric = 'alerts_emitted';
//
// A Fleet policy "osqdetect healthy" is
// `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM detection_health WHERE status = 'error')`.
package detectionhealth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// Name is the table's name in osquery.
const Name = "detection_health"

// Statuses of a row.
const (
	StatusOK      = "ok"
	StatusWarning = "warning"
	StatusError   = "error"
)

// Snapshot is the pipeline's state at one moment; the runtime fills it.
type Snapshot struct {
	// Taken is when the snapshot was taken; uptime and lag are measured
	// from it.
	Taken     time.Time
	Extension Extension
	Sources   []Source
	Engine    Engine
	Store     Store
	Tables    []tablewrap.Stats
	// Warnings are conditions that lose or miss events, one sentence each.
	Warnings []string
}

// Extension is the extension process and its link to osquery.
type Extension struct {
	Version       string
	StartedAt     time.Time
	HostID        string
	ConfigPath    string
	CoreReachable bool  // the last call to osqueryd worked
	Registered    bool  // osqueryd listed the extension at the last check
	Registrations int64 // times the extension (re)registered
	LastCoreError string
	EventsExpiry  int64 // osquery's --events_expiry, seconds; 0 if unknown
}

// Source is one event table the extension polls.
type Source struct {
	Table         string
	EventsEnabled bool
	EventsProblem string // why events are not collected, when they are not
	RowsRead      int64
	RowsDelivered int64
	Malformed     int64
	Polls         int64
	Errors        int64
	LastError     string
	LastPoll      time.Time
	Cursor        int64 // osquery time (Unix seconds) read up to
	LagSeconds    int64 // how far the cursor trails the present
	// Quarantined counts rows stamped implausibly far ahead of the host's
	// clock; they are never read (LastQuarantine names the last one).
	Quarantined    int64
	LastQuarantine string
	// StalledSince is when the cursor stopped moving while rows of
	// complete seconds waited beyond it (zero when not stalled).
	StalledSince time.Time
	StallReason  string
}

// Engine is the detection engine's counters.
type Engine struct {
	RulesEnabled     int
	RulesRejected    int
	EventsProcessed  int64
	AlertsEmitted    int64
	AlertsSuppressed int64
	PendingSequences int
	DroppedSequences int64
	ProcessCacheSize int
	Terms            int
	RowsRejected     int64
	LastRejectReason string
}

// Store is the alert store's condition.
type Store struct {
	Path            string
	Alerts          int64
	SizeBytes       int64
	Recovered       bool
	RecoveryReason  string
	Commits         int64
	CommitErrors    int64
	LastCommitError string
	AlertsPruned    int64
	// Durable says what survives a crash (one sentence); RestoreError
	// names a part of the engine state that could not be read at start.
	Durable      string
	RestoreError string
}

// SnapshotFunc returns the current snapshot.
type SnapshotFunc func(ctx context.Context) (Snapshot, error)

// Spec is the table's contract.
func Spec() tablewrap.Spec {
	T := tablewrap.Text
	return tablewrap.Spec{
		Name:        Name,
		Description: "Health of osqdetect's detection pipeline, one metric per row.",
		Columns: []tablewrap.Column{
			T("component", "extension, source, engine, store or table."),
			T("subject", "The event table (source) or served table (table) the metric is about; empty otherwise."),
			T("metric", "Metric name, e.g. rows_read, lag_seconds, alerts_emitted."),
			T("value", "Metric value; numbers are decimal strings."),
			T("status", "ok, warning, or error when detections are being missed."),
			T("detail", "Last error, reason or advice, when there is one."),
		},
	}
}

// New returns the guarded detection_health table.
func New(snapshot SnapshotFunc, opts tablewrap.Options) *tablewrap.Table {
	return tablewrap.New(Spec(), func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		s, err := snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading health: %w", err)
		}
		return Rows(s), nil
	}, opts)
}

type rowWriter struct{ rows []map[string]string }

func (w *rowWriter) add(component, subject, metric, value, status, detail string) {
	w.rows = append(w.rows, map[string]string{
		"component": component, "subject": subject, "metric": metric,
		"value": value, "status": status, "detail": detail,
	})
}

func (w *rowWriter) num(component, subject, metric string, v int64, status, detail string) {
	w.add(component, subject, metric, strconv.FormatInt(v, 10), status, detail)
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// warnIf returns StatusWarning when cond holds, else StatusOK.
func warnIf(cond bool) string {
	if cond {
		return StatusWarning
	}
	return StatusOK
}

// Rows renders a snapshot as table rows, in a fixed order.
func Rows(s Snapshot) []map[string]string {
	w := &rowWriter{}
	x := s.Extension

	const ext = "extension"
	w.add(ext, "", "version", x.Version, StatusOK, "")
	w.num(ext, "", "started_at", unix(x.StartedAt), StatusOK, "")
	uptime := int64(0)
	if !x.StartedAt.IsZero() && s.Taken.After(x.StartedAt) {
		uptime = int64(s.Taken.Sub(x.StartedAt) / time.Second)
	}
	w.num(ext, "", "uptime_seconds", uptime, StatusOK, "")
	w.add(ext, "", "host_id", x.HostID, StatusOK, "")
	w.add(ext, "", "config_path", x.ConfigPath, StatusOK, "")
	coreStatus, coreDetail := StatusOK, ""
	if !x.CoreReachable {
		coreStatus, coreDetail = StatusError, x.LastCoreError
	}
	w.add(ext, "", "core_reachable", boolValue(x.CoreReachable), coreStatus, coreDetail)
	regStatus, regDetail := StatusOK, ""
	if !x.Registered {
		regStatus, regDetail = StatusError, "osqueryd does not list the extension; it will register again"
	}
	w.add(ext, "", "registered", boolValue(x.Registered), regStatus, regDetail)
	w.num(ext, "", "registrations", x.Registrations, warnIf(x.Registrations > 1),
		detailIf(x.Registrations > 1, "osqueryd dropped the extension and it registered again"))
	w.num(ext, "", "events_expiry_seconds", x.EventsExpiry, StatusOK, "")
	for _, warning := range s.Warnings {
		w.add(ext, "", "warning", "1", StatusWarning, warning)
	}

	const src = "source"
	for _, so := range s.Sources {
		enabled, detail := StatusOK, ""
		if !so.EventsEnabled {
			enabled, detail = StatusError, so.EventsProblem
			if detail == "" {
				detail = "osquery is not collecting these events"
			}
		}
		w.add(src, so.Table, "events_enabled", boolValue(so.EventsEnabled), enabled, detail)
		w.num(src, so.Table, "rows_read", so.RowsRead, StatusOK, "")
		w.num(src, so.Table, "rows_delivered", so.RowsDelivered, StatusOK, "")
		w.num(src, so.Table, "rows_malformed", so.Malformed, warnIf(so.Malformed > 0), "")
		w.num(src, so.Table, "polls", so.Polls, StatusOK, "")
		w.num(src, so.Table, "last_poll_time", unix(so.LastPoll), StatusOK, "")
		w.num(src, so.Table, "cursor", so.Cursor, StatusOK, "")
		lagStatus, lagDetail := StatusOK, ""
		if x.EventsExpiry > 0 {
			switch {
			case so.LagSeconds >= x.EventsExpiry:
				lagStatus = StatusError
				lagDetail = fmt.Sprintf("the cursor trails by more than osquery's events_expiry (%d s): events expired unread", x.EventsExpiry)
			case so.LagSeconds >= x.EventsExpiry/2:
				lagStatus = StatusWarning
				lagDetail = fmt.Sprintf("the cursor trails by over half of osquery's events_expiry (%d s)", x.EventsExpiry)
			}
		}
		stalled := int64(0)
		if !so.StalledSince.IsZero() {
			stalled = max(int64(s.Taken.Sub(so.StalledSince)/time.Second), 1)
		}
		w.num(src, so.Table, "lag_seconds", so.LagSeconds, lagStatus, lagDetail)
		stallStatus := StatusOK
		if stalled > 0 {
			stallStatus = StatusError
		}
		w.num(src, so.Table, "stalled_seconds", stalled, stallStatus, so.StallReason)
		w.num(src, so.Table, "rows_quarantined", so.Quarantined, warnIf(so.Quarantined > 0),
			detailIf(so.Quarantined > 0, "rows stamped too far ahead of the host's clock are never read; last: "+so.LastQuarantine))
		w.num(src, so.Table, "errors", so.Errors, warnIf(so.Errors > 0), so.LastError)
	}

	const eng = "engine"
	e := s.Engine
	w.num(eng, "", "rules_enabled", int64(e.RulesEnabled), warnIf(e.RulesEnabled == 0),
		detailIf(e.RulesEnabled == 0, "no rule is running"))
	w.num(eng, "", "rules_rejected", int64(e.RulesRejected), warnIf(e.RulesRejected > 0),
		detailIf(e.RulesRejected > 0, "see SELECT rule_id, error FROM detection_rules WHERE error != ''"))
	w.num(eng, "", "events_processed", e.EventsProcessed, StatusOK, "")
	w.num(eng, "", "alerts_emitted", e.AlertsEmitted, StatusOK, "")
	w.num(eng, "", "alerts_suppressed", e.AlertsSuppressed, StatusOK,
		detailIf(e.AlertsSuppressed > 0, "alerts over a rule's rate limit; per rule in detection_rules.suppressed"))
	w.num(eng, "", "pending_sequences", int64(e.PendingSequences), StatusOK, "")
	w.num(eng, "", "dropped_sequences", e.DroppedSequences, warnIf(e.DroppedSequences > 0),
		detailIf(e.DroppedSequences > 0, "partial sequences dropped at the max_pending_sequences bound"))
	w.num(eng, "", "process_cache_size", int64(e.ProcessCacheSize), StatusOK, "")
	w.num(eng, "", "new_terms_entries", int64(e.Terms), StatusOK, "")
	w.num(eng, "", "rows_rejected", e.RowsRejected, warnIf(e.RowsRejected > 0), e.LastRejectReason)

	const st = "store"
	so := s.Store
	w.add(st, "", "path", so.Path, StatusOK, "")
	w.num(st, "", "alerts", so.Alerts, StatusOK, "")
	w.num(st, "", "size_bytes", so.SizeBytes, StatusOK, "")
	w.add(st, "", "recovered", boolValue(so.Recovered), warnIf(so.Recovered), so.RecoveryReason)
	w.num(st, "", "commits", so.Commits, StatusOK, "")
	w.num(st, "", "commit_errors", so.CommitErrors, warnIf(so.CommitErrors > 0), so.LastCommitError)
	w.num(st, "", "alerts_pruned", so.AlertsPruned, StatusOK, "")
	if so.Durable != "" {
		w.add(st, "", "durable", so.Durable, StatusOK, "")
	}
	w.add(st, "", "state_restored", boolValue(so.RestoreError == ""), warnIf(so.RestoreError != ""), so.RestoreError)

	const tbl = "table"
	for _, t := range s.Tables {
		w.num(tbl, t.Table, "reads", t.Calls, StatusOK, "")
		w.num(tbl, t.Table, "rows", t.Rows, StatusOK, "")
		w.num(tbl, t.Table, "errors", t.Errors, warnIf(t.Errors > 0), t.LastError)
		w.num(tbl, t.Table, "timeouts", t.Timeouts, warnIf(t.Timeouts > 0), "")
		w.num(tbl, t.Table, "busy", t.Busy, StatusOK, "")
		w.num(tbl, t.Table, "panics", t.Panics, warnIf(t.Panics > 0), "")
	}
	return w.rows
}

func detailIf(cond bool, detail string) string {
	if cond {
		return detail
	}
	return ""
}
