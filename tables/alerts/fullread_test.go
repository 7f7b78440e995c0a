package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// DefaultRetention is the alert store's default max_count: a full read of
// the table reads this many alerts.
const defaultRetention = 100_000

// bigAlert is an alert of about 2 KB stored, most of it its events, as a
// three-event reverse shell alert is.
func bigAlert(i int) *detect.Alert {
	ev := fmt.Sprintf(`{"@timestamp":"2023-11-14T22:13:20.000Z","event":{"action":"exec","category":"process","id":"host:process_events:%010d:%016x"},"process":{"args":["/var/www/html/.x","203.0.113.9","4444"],"command_line":"/var/www/html/.x 203.0.113.9 4444","entity_id":"5f6d780325f5345e","executable":"/var/www/html/.x","name":".x","parent":{"command_line":"bash -i","executable":"/usr/bin/bash","name":"bash","pid":2100},"pid":%d}}`, i, i, 2000+i%30000)
	return &detect.Alert{
		ID: fmt.Sprintf("%08x-0000-5000-8000-%012x", i, i), Time: 1700000000 + int64(i/10), RuleID: "fa3a59dc-33c3-43bf-80a9-e8437a922c7f",
		RuleName: "Potential Reverse Shell via Suspicious Binary", RuleType: "eql", Severity: "medium", RiskScore: 47,
		Tactics: "TA0002", Techniques: "T1059", HostID: "4c4c4544-0042-3610-8052-b4c04f4a4d32", Pid: int64(2000 + i%30000),
		ProcessExecutable: "/var/www/html/.x", ProcessName: ".x", ProcessCommandLine: "/var/www/html/.x 203.0.113.9 4444",
		ParentPid: 2100, ParentExecutable: "/usr/bin/bash", ParentName: "bash", UserID: "33",
		DestinationIP: "203.0.113.9", DestinationPort: 4444, Reason: "process .x connected to 203.0.113.9:4444",
		Events: json.RawMessage("[" + strings.Join([]string{ev, ev, ev}, ",") + "]"),
	}
}

// fullStore is a store holding n big alerts.
func fullStore(tb testing.TB, n int) *store.Store {
	tb.Helper()
	s, _, err := store.Open(context.Background(), tb.TempDir(), store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	for start := 0; start < n; start += 5000 {
		batch := make([]*detect.Alert, 0, 5000)
		for i := start; i < min(n, start+5000); i++ {
			batch = append(batch, bigAlert(i))
		}
		if _, err := s.Commit(context.Background(), store.Batch{Alerts: batch}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func selectContext(cols []string) osquery.ExtensionPluginRequest {
	ctx, _ := json.Marshal(map[string]any{"constraints": []any{}, "colsUsed": cols, "colsUsedBitset": 0})
	return osquery.ExtensionPluginRequest{"action": "generate", "context": string(ctx)}
}

// fullRead reads the whole table through the guarded plugin with the
// default timeout and returns the rows and the heap they keep alive.
func fullRead(tb testing.TB, s *store.Store, cols []string) (rows int, retained uint64) {
	tb.Helper()
	tbl := New(s, tablewrap.Options{}) // the default 30 s timeout
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp := tbl.Plugin().Call(context.Background(), selectContext(cols))
	runtime.GC()
	runtime.ReadMemStats(&after)
	if resp.Status.Code != 0 {
		tb.Fatalf("full read: %+v", resp.Status)
	}
	rows = len(resp.Response)
	runtime.KeepAlive(resp)
	if after.HeapAlloc > before.HeapAlloc {
		retained = after.HeapAlloc - before.HeapAlloc
	}
	return rows, retained
}

// Memory bounds of a full read, per alert held in the response (the
// response is the one copy osquery-go serializes from, streaming): with
// every column, at most 1.75 times the alert's stored size; without events,
// at most 1.75 KB (one Go map of 21 short strings per row is most of it).
const (
	maxRetainedPerStoredByte = 1.75
	maxRetainedWithoutEvents = 1792
)

// The short version of the full-read check (BenchmarkFullRead runs it at
// the default retention): every alert comes back within the default table
// timeout, and the memory the rows keep stays within the stated bounds.
func TestFullReadMemoryBound(t *testing.T) {
	const n = 2000
	s := fullStore(t, n)
	stored := 0
	for i := 0; i < n; i++ {
		b, _ := json.Marshal(bigAlert(i))
		stored += len(b)
	}
	all := Spec().ColumnNames()
	rows, retained := fullRead(t, s, all)
	if rows != n || float64(retained) > maxRetainedPerStoredByte*float64(stored) {
		t.Errorf("SELECT *: %d rows keeping %d KB, want %d rows within %.1f x %d KB stored", rows, retained>>10, n, maxRetainedPerStoredByte, stored>>10)
	}
	t.Logf("SELECT *: %d rows, %d KB stored, %d KB retained", rows, stored>>10, retained>>10)
	noEvents := all[:len(all)-1]
	rows, retained = fullRead(t, s, noEvents)
	if rows != n || retained > maxRetainedWithoutEvents*n {
		t.Errorf("SELECT without events: %d rows keeping %d KB, want %d rows within %d KB", rows, retained>>10, n, maxRetainedWithoutEvents*n>>10)
	}
	t.Logf("SELECT without events: %d rows, %d KB retained", rows, retained>>10)
}

// BenchmarkFullRead reads the whole table at the default retention
// (100,000 alerts of about 2 KB) through the guarded plugin, as osqueryd's
// `SELECT * FROM alerts` does; retained-MB is the heap the response keeps.
func BenchmarkFullRead(b *testing.B) {
	s := fullStore(b, defaultRetention)
	all := Spec().ColumnNames()
	for _, bc := range []struct {
		name string
		cols []string
	}{{"all_columns", all}, {"without_events", all[:len(all)-1]}, {"count", []string{}}} {
		b.Run(bc.name, func(b *testing.B) {
			var retained uint64
			for i := 0; i < b.N; i++ {
				var rows int
				rows, retained = fullRead(b, s, bc.cols)
				if rows != defaultRetention {
					b.Fatalf("%d rows", rows)
				}
			}
			b.ReportMetric(float64(retained)/(1<<20), "retained-MB")
		})
	}
}
