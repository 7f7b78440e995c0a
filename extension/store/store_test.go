package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/osqdetect/osqdetect/detect"
)

var severities = []string{"low", "medium", "high", "critical"}

func testAlert(i int, rule string, t int64) *detect.Alert {
	return &detect.Alert{
		ID:                fmt.Sprintf("00000000-0000-5000-8000-%012d", i),
		Time:              t,
		RuleID:            rule,
		RuleName:          "Rule " + rule,
		RuleType:          "eql",
		Severity:          severities[i%len(severities)],
		RiskScore:         47,
		Tactics:           "TA0002",
		Techniques:        "T1059",
		HostID:            "host-1",
		Pid:               int64(1000 + i),
		ProcessExecutable: "/usr/bin/bash",
		ProcessName:       "bash",
		Reason:            "bash connected out",
		Events:            json.RawMessage(`[{"event":{"category":"process"}}]`),
	}
}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, res, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if res.Recovered {
		t.Fatalf("Open recovered unexpectedly: %s", res.Reason)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCommit(t testing.TB, s *Store, b Batch) CommitResult {
	t.Helper()
	res, err := s.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func ids(as []*detect.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir)
	batch := Batch{
		Alerts: []*detect.Alert{testAlert(1, "r1", 100), testAlert(2, "r2", 200)},
		Terms: []detect.TermEntry{
			{Rule: "r1", Key: "host\x00parent", LastSeen: 5000},
			{Rule: "r1", Key: strings.Repeat("k", 40000), LastSeen: 6000}, // longer than a bbolt key
		},
		Cursors: map[string]Cursor{"process_events": {Time: 200, EIDs: []string{"0000000007", "0000000008"}}},
		State:   map[string][]byte{"sequences": []byte("seq-blob"), "processes": {}},
	}
	mustCommit(t, s, batch)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Alerts(ctx, AlertQuery{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Alerts after Close: err = %v, want ErrClosed", err)
	}

	s = openTest(t, dir)
	got, err := s.Alerts(ctx, AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, batch.Alerts) {
		t.Errorf("alerts after reopen:\n got %+v\nwant %+v", got, batch.Alerts)
	}
	terms, err := s.Terms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(terms, batch.Terms) {
		t.Errorf("terms after reopen: got %d entries %v", len(terms), terms[0])
	}
	cursors, err := s.Cursors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cursors, batch.Cursors) {
		t.Errorf("cursors after reopen: got %+v want %+v", cursors, batch.Cursors)
	}
	for name, want := range batch.State {
		got, err := s.State(ctx, name)
		if err != nil || string(got) != string(want) || got == nil {
			t.Errorf("State(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if got, err := s.State(ctx, "absent"); got != nil || err != nil {
		t.Errorf("State(absent) = %q, %v; want nil, nil", got, err)
	}
	counts, err := s.RuleAlertCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RuleCount{"r1": {1, 100}, "r2": {1, 200}}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("RuleAlertCounts = %v, want %v", counts, want)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Alerts != 2 || info.Terms != 2 || info.SizeBytes == 0 || info.Recovered {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

func TestCommitUpserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a := testAlert(1, "r1", 100)
	res := mustCommit(t, s, Batch{Alerts: []*detect.Alert{a, testAlert(2, "r1", 50)}})
	if res.NewAlerts != 2 || res.UpdatedAlerts != 0 {
		t.Errorf("first commit: %+v", res)
	}
	// The same alert again (a re-processed poll), in the same batch twice.
	again := *a
	again.Reason = "updated"
	res = mustCommit(t, s, Batch{Alerts: []*detect.Alert{&again, &again}})
	if res.NewAlerts != 0 || res.UpdatedAlerts != 2 {
		t.Errorf("re-commit: %+v", res)
	}
	// Same id with a different time moves its index entry.
	moved := again
	moved.Time = 300
	mustCommit(t, s, Batch{Alerts: []*detect.Alert{&moved}})

	all, err := s.Alerts(ctx, AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].ID != a.ID || all[1].Reason != "updated" || all[1].Time != 300 {
		t.Fatalf("alerts = %+v", all)
	}
	old, _ := s.Alerts(ctx, AlertQuery{HasMaxTime: true, MaxTime: 100})
	if len(old) != 1 || old[0].Time != 50 {
		t.Errorf("time index still has the old entry: %v", ids(old))
	}
	counts, _ := s.RuleAlertCounts(ctx)
	if counts["r1"] != (RuleCount{Count: 2, LastTime: 300}) {
		t.Errorf("counts = %v", counts)
	}
	if info, _ := s.Info(ctx); info.Alerts != 2 {
		t.Errorf("Info.Alerts = %d, want 2", info.Alerts)
	}
}

func TestCommitRejectsMalformedAlerts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	noID := testAlert(2, "r", 1)
	noID.ID = ""
	longRule := testAlert(3, strings.Repeat("r", MaxRuleIDLen+1), 1)
	res := mustCommit(t, s, Batch{Alerts: []*detect.Alert{testAlert(1, "r", 1), nil, noID, longRule}})
	if res.NewAlerts != 1 || res.Rejected != 3 || !strings.Contains(res.LastRejectReason, "rule id is 1025 bytes") {
		t.Errorf("result = %+v", res)
	}
	all, _ := s.Alerts(ctx, AlertQuery{})
	if len(all) != 1 {
		t.Errorf("stored %d alerts, want 1", len(all))
	}
}

func TestCommitIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCommit(t, s, Batch{State: map[string][]byte{"sequences": []byte("v1")}})

	// The cursor's table name is too long for a bbolt key: the transaction
	// fails after the alerts, terms and state were written, and must leave
	// none of them behind.
	_, err := s.Commit(ctx, Batch{
		Alerts:  []*detect.Alert{testAlert(1, "r1", 100)},
		Terms:   []detect.TermEntry{{Rule: "r1", Key: "k", LastSeen: 1}},
		State:   map[string][]byte{"sequences": []byte("v2")},
		Cursors: map[string]Cursor{strings.Repeat("t", bolt.MaxKeySize+1): {Time: 1}},
	})
	if err == nil {
		t.Fatal("Commit succeeded, want a failure")
	}
	if all, _ := s.Alerts(ctx, AlertQuery{}); len(all) != 0 {
		t.Errorf("failed commit left %d alerts", len(all))
	}
	if terms, _ := s.Terms(ctx); len(terms) != 0 {
		t.Errorf("failed commit left terms %v", terms)
	}
	if v, _ := s.State(ctx, "sequences"); string(v) != "v1" {
		t.Errorf("state = %q, want v1", v)
	}
	if counts, _ := s.RuleAlertCounts(ctx); len(counts) != 0 {
		t.Errorf("failed commit left counts %v", counts)
	}
	if info, _ := s.Info(ctx); info.Alerts != 0 {
		t.Errorf("failed commit left alert total %d", info.Alerts)
	}
}

func TestTermsAndState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCommit(t, s, Batch{
		Terms: []detect.TermEntry{{Rule: "r", Key: "a", LastSeen: 100}, {Rule: "r", Key: "b", LastSeen: 100}},
		State: map[string][]byte{"x": []byte("1"), "y": []byte("2")},
	})
	mustCommit(t, s, Batch{
		// a moves forward, b's older sighting must not move it back.
		Terms: []detect.TermEntry{{Rule: "r", Key: "a", LastSeen: 300}, {Rule: "r", Key: "b", LastSeen: 50}},
		State: map[string][]byte{"x": nil},
	})
	terms, _ := s.Terms(ctx)
	want := []detect.TermEntry{{Rule: "r", Key: "a", LastSeen: 300}, {Rule: "r", Key: "b", LastSeen: 100}}
	if !reflect.DeepEqual(terms, want) {
		t.Errorf("terms = %v, want %v", terms, want)
	}
	if v, _ := s.State(ctx, "x"); v != nil {
		t.Errorf("deleted state x = %q", v)
	}
	n, err := s.PruneTerms(ctx, 200)
	if err != nil || n != 1 {
		t.Errorf("PruneTerms = %d, %v; want 1", n, err)
	}
	terms, _ = s.Terms(ctx)
	if len(terms) != 1 || terms[0].Key != "a" {
		t.Errorf("after PruneTerms: %v", terms)
	}
}

// fixture stores alerts over 4 rules and 1000 seconds.
func fixture(t testing.TB, s *Store, n int) []*detect.Alert {
	var all []*detect.Alert
	for i := range n {
		all = append(all, testAlert(i, fmt.Sprintf("rule-%d", i%4), int64(1000+i*1000/n)))
	}
	for i := 0; i < len(all); i += 100 {
		mustCommit(t, s, Batch{Alerts: all[i:min(i+100, len(all))]})
	}
	return all
}

func TestAlertQueries(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	all := fixture(t, s, 400)
	tests := []struct {
		name       string
		q          AlertQuery
		maxVisited int // push-down bound: entries read, not the whole store
	}{
		{"everything", AlertQuery{}, 400},
		{"time at least", AlertQuery{HasMinTime: true, MinTime: 1900}, 41},
		{"time at most", AlertQuery{HasMaxTime: true, MaxTime: 1010}, 41},
		{"time window", AlertQuery{HasMinTime: true, MinTime: 1500, HasMaxTime: true, MaxTime: 1502}, 4},
		{"time exact", AlertQuery{HasMinTime: true, MinTime: 1500, HasMaxTime: true, MaxTime: 1500}, 1},
		{"empty window", AlertQuery{HasMinTime: true, MinTime: 1600, HasMaxTime: true, MaxTime: 1500}, 0},
		{"before everything", AlertQuery{HasMaxTime: true, MaxTime: 999}, 0},
		{"extreme bounds", AlertQuery{HasMinTime: true, MinTime: math.MinInt64, HasMaxTime: true, MaxTime: math.MaxInt64}, 400},
		{"one rule", AlertQuery{RuleIDs: []string{"rule-1"}}, 100},
		{"two rules in a window", AlertQuery{RuleIDs: []string{"rule-1", "rule-3", "rule-1"}, HasMinTime: true, MinTime: 1900}, 20},
		{"unknown rule", AlertQuery{RuleIDs: []string{"nope"}}, 0},
		{"severity filter", AlertQuery{Severities: []string{"high"}, HasMinTime: true, MinTime: 1950}, 21},
		{"ids", AlertQuery{IDs: []string{all[7].ID, all[3].ID, all[3].ID, "missing"}}, 3},
		{"ids and a rule that excludes one", AlertQuery{IDs: []string{all[7].ID, all[3].ID}, RuleIDs: []string{"rule-3"}}, 2},
		{"ids outside the window", AlertQuery{IDs: []string{all[7].ID}, HasMinTime: true, MinTime: 1900}, 1},
		{"limit", AlertQuery{Limit: 5}, 5},
		{"limit with rule", AlertQuery{RuleIDs: []string{"rule-2", "rule-0"}, Limit: 3}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, visited, err := s.alerts(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(all, tt.q)
			if !reflect.DeepEqual(ids(got), ids(want)) {
				t.Errorf("got %d alerts %v\nwant %d %v", len(got), ids(got), len(want), ids(want))
			}
			if visited > tt.maxVisited {
				t.Errorf("visited %d entries, want at most %d (no push-down?)", visited, tt.maxVisited)
			}
		})
	}
}

func bruteForce(all []*detect.Alert, q AlertQuery) []*detect.Alert {
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	lo, hi := q.timeBounds()
	var out []*detect.Alert
	for _, a := range all {
		if a.Time >= lo && a.Time <= hi && in(q.IDs, a.ID) && in(q.RuleIDs, a.RuleID) && in(q.Severities, a.Severity) {
			out = append(out, a)
		}
	}
	sortAlerts(out)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	all := fixture(t, s, 400) // times 1000..1997

	// By age: now 2000, max age 500s → alerts before 1500 go.
	n, err := s.Prune(ctx, time.Unix(2000, 0), 500*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	left := bruteForce(all, AlertQuery{HasMinTime: true, MinTime: 1500})
	if n != len(all)-len(left) {
		t.Errorf("pruned %d by age, want %d", n, len(all)-len(left))
	}
	checkStore(t, s, left)

	// By count: keep the newest 50.
	n, err = s.Prune(ctx, time.Unix(2000, 0), 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(left)-50 {
		t.Errorf("pruned %d by count, want %d", n, len(left)-50)
	}
	checkStore(t, s, left[len(left)-50:])

	// Nothing more to do; zero bounds do nothing.
	if n, err := s.Prune(ctx, time.Unix(2000, 0), 0, 0); n != 0 || err != nil {
		t.Errorf("Prune with no bounds = %d, %v", n, err)
	}
	if n, err := s.Prune(ctx, time.Unix(2000, 0), time.Duration(math.MaxInt64), 1000); n != 0 || err != nil {
		t.Errorf("Prune with huge bounds = %d, %v", n, err)
	}
}

func TestPruneLargeBacklogInChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	all := fixture(t, s, pruneChunk*2+123)
	n, err := s.Prune(ctx, time.Unix(0, 0), 0, 10)
	if err != nil || n != len(all)-10 {
		t.Fatalf("Prune = %d, %v; want %d", n, err, len(all)-10)
	}
	checkStore(t, s, bruteForce(all, AlertQuery{})[len(all)-10:])
}

// checkStore compares the store's alerts and its maintained counts with want.
func checkStore(t *testing.T, s *Store, want []*detect.Alert) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Alerts(ctx, AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	sorted := append([]*detect.Alert(nil), want...)
	sortAlerts(sorted)
	if !reflect.DeepEqual(ids(got), ids(sorted)) {
		t.Errorf("store holds %d alerts, want %d", len(got), len(sorted))
	}
	wantCounts := map[string]RuleCount{}
	for _, a := range want {
		c := wantCounts[a.RuleID]
		c.Count++
		c.LastTime = max(c.LastTime, a.Time)
		wantCounts[a.RuleID] = c
	}
	counts, err := s.RuleAlertCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("RuleAlertCounts = %v, want %v", counts, wantCounts)
	}
	if info, _ := s.Info(ctx); info.Alerts != int64(len(want)) {
		t.Errorf("Info.Alerts = %d, want %d", info.Alerts, len(want))
	}
	// Every index agrees with the alerts.
	for rule := range wantCounts {
		byRule, _ := s.Alerts(ctx, AlertQuery{RuleIDs: []string{rule}})
		if int64(len(byRule)) != wantCounts[rule].Count {
			t.Errorf("rule index of %s has %d alerts, want %d", rule, len(byRule), wantCounts[rule].Count)
		}
	}
}

func TestBoundedGrowth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	size := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, DefaultFileName))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	blob := make([]byte, 32<<10)
	var mid int64
	for round := range 40 {
		var batch Batch
		for i := range 200 {
			batch.Alerts = append(batch.Alerts, testAlert(round*200+i, "r", int64(round*200+i)))
			batch.Terms = append(batch.Terms, detect.TermEntry{Rule: "r", Key: fmt.Sprint(round*200 + i), LastSeen: int64(round)})
		}
		batch.State = map[string][]byte{"processes": blob}
		mustCommit(t, s, batch)
		if _, err := s.Prune(ctx, time.Unix(0, 0), 0, 1000); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PruneTerms(ctx, int64(round-4)); err != nil {
			t.Fatal(err)
		}
		if round == 19 {
			mid = size()
		}
	}
	end := size()
	if end > mid*3/2 {
		t.Errorf("file grew from %d to %d bytes while holding a constant number of alerts", mid, end)
	}
	if info, _ := s.Info(ctx); info.Alerts != 1000 || info.Terms > 1000 {
		t.Errorf("Info = %+v, want 1000 alerts and at most 1000 terms", info)
	}
}

func TestConcurrentReadsDuringCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	const rounds, perRound = 30, 10
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				all, err := s.Alerts(ctx, AlertQuery{})
				if err != nil {
					errs <- err
					return
				}
				// Each commit adds a whole round: a reader never sees part of one.
				if len(all)%perRound != 0 {
					errs <- fmt.Errorf("reader saw %d alerts, not a whole number of commits", len(all))
					return
				}
				if _, err := s.RuleAlertCounts(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for r := range rounds {
		var b Batch
		for i := range perRound {
			b.Alerts = append(b.Alerts, testAlert(r*perRound+i, "r", int64(r)))
		}
		mustCommit(t, s, b)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Commit(ctx, Batch{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit: %v", err)
	}
	if _, err := s.Alerts(ctx, AlertQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Alerts: %v", err)
	}
	if _, _, err := Open(ctx, t.TempDir(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open: %v", err)
	}
}

func TestTimeKeyOrder(t *testing.T) {
	t.Parallel()
	times := []int64{math.MinInt64, -5, -1, 0, 1, 5, 1 << 40, math.MaxInt64}
	keys := make([]string, len(times))
	for i, tm := range times {
		var b [8]byte
		putTime(b[:], tm)
		if getTime(b[:]) != tm {
			t.Errorf("round trip of %d gave %d", tm, getTime(b[:]))
		}
		keys[i] = string(b[:])
	}
	if !sort.StringsAreSorted(keys) {
		t.Error("encoded times do not sort in numeric order")
	}
}

func BenchmarkCommitPoll(b *testing.B) {
	// A typical busy poll: a few alerts, a few dozen new-terms updates, two
	// cursors and the engine's state blobs.
	s := openTest(b, b.TempDir())
	ctx := context.Background()
	seq := make([]byte, 4<<10)
	procs := make([]byte, 256<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := Batch{
			Alerts:  []*detect.Alert{testAlert(i*3, "r1", int64(i)), testAlert(i*3+1, "r2", int64(i)), testAlert(i*3+2, "r1", int64(i))},
			Cursors: map[string]Cursor{"process_events": {Time: int64(i), EIDs: []string{"0000000001", "0000000002"}}, "socket_events": {Time: int64(i)}},
			State:   map[string][]byte{"sequences": seq, "processes": procs},
		}
		for j := range 30 {
			batch.Terms = append(batch.Terms, detect.TermEntry{Rule: "r1", Key: fmt.Sprintf("host\x00parent-%d", (i*30+j)%5000), LastSeen: int64(i)})
		}
		if _, err := s.Commit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAlertsTimeRange(b *testing.B) {
	s := openTest(b, b.TempDir())
	fixture(b, s, 20000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := s.Alerts(ctx, AlertQuery{HasMinTime: true, MinTime: 1990})
		if err != nil || len(got) == 0 {
			b.Fatal(len(got), err)
		}
	}
}

func records(t *testing.T, s *Store, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Records(context.Background(), ns, func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecordsPutDeleteAndClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	mustCommit(t, s, Batch{Records: map[string][]Record{
		"procs":  {{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}},
		"groups": {{Key: []byte("g"), Value: []byte("x")}},
	}})
	mustCommit(t, s, Batch{Records: map[string][]Record{"procs": {{Key: []byte("a")}, {Key: []byte("c"), Value: []byte("3")}}}})
	if got := records(t, s, "procs"); len(got) != 2 || got["b"] != "2" || got["c"] != "3" {
		t.Errorf("procs = %v, want b and c", got)
	}
	mustCommit(t, s, Batch{ClearRecords: []string{"procs"}, Records: map[string][]Record{"procs": {{Key: []byte("d"), Value: []byte("4")}}}})
	if got := records(t, s, "procs"); len(got) != 1 || got["d"] != "4" {
		t.Errorf("procs after clear = %v, want only d", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if got := records(t, s, "groups"); got["g"] != "x" {
		t.Errorf("groups after reopen = %v", got)
	}
	if got := records(t, s, "none"); len(got) != 0 {
		t.Errorf("unknown namespace = %v", got)
	}
	if _, err := s.Commit(context.Background(), Batch{Records: map[string][]Record{"procs": {{Key: nil, Value: []byte("x")}}}}); err == nil {
		t.Error("a record with an empty key was accepted")
	}
}

func TestForgottenTermsAreDeleted(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	mustCommit(t, s, Batch{Terms: []detect.TermEntry{{Rule: "r", Key: "k1", LastSeen: 5}, {Rule: "r", Key: "k2", LastSeen: 6}}})
	mustCommit(t, s, Batch{Terms: []detect.TermEntry{{Rule: "r", Key: "k1", Forget: true}}})
	terms, err := s.Terms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 1 || terms[0].Key != "k2" {
		t.Errorf("terms = %+v, want only k2", terms)
	}
}

// A commit the hook interrupts (here by failing it, as a kill would leave
// it) stores nothing of the batch.
func TestCommitHookRunsInsideTheTransaction(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	calls := 0
	s.SetCommitHook(func() {
		calls++
		panic("interrupted")
	})
	func() {
		defer func() { _ = recover() }()
		_, _ = s.Commit(context.Background(), Batch{Cursors: map[string]Cursor{"process_events": {Time: 9}}})
	}()
	s.SetCommitHook(nil)
	if calls != 1 {
		t.Fatalf("hook ran %d times", calls)
	}
	cs, err := s.Cursors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cs["process_events"].Time == 9 {
		t.Error("an interrupted commit was stored")
	}
}
