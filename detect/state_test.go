package detect_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
)

// fakeStore applies engine deltas as the extension's store does.
type fakeStore struct {
	terms     map[[2]string]int64
	sequences []byte
	limits    []byte
	counters  []byte
	groups    map[[2]string][]byte
}

func (s *fakeStore) apply(d detect.EngineDelta) {
	if s.terms == nil {
		s.terms, s.groups = map[[2]string]int64{}, map[[2]string][]byte{}
	}
	for _, t := range d.Terms {
		k := [2]string{t.Rule, t.Key}
		if t.Forget {
			delete(s.terms, k)
		} else if old, ok := s.terms[k]; !ok || t.LastSeen >= old {
			s.terms[k] = t.LastSeen
		}
	}
	if d.Sequences != nil {
		s.sequences = d.Sequences
	}
	if d.Limits != nil {
		s.limits = d.Limits
	}
	s.counters = d.Counters
	for _, g := range d.Groups {
		k := [2]string{g.Rule, g.Key}
		if g.Data == nil {
			delete(s.groups, k)
		} else {
			s.groups[k] = g.Data
		}
	}
}

func (s *fakeStore) state() detect.EngineState {
	st := detect.EngineState{Sequences: s.sequences, Limits: s.limits, Counters: s.counters}
	for k, t := range s.terms {
		st.Terms = append(st.Terms, detect.TermEntry{Rule: k[0], Key: k[1], LastSeen: t})
	}
	for k, d := range s.groups {
		st.Groups = append(st.Groups, detect.GroupEntry{Rule: k[0], Key: k[1], Data: d})
	}
	return st
}

// stateRules is one rule of each stateful kind: a sequence, new terms with
// a history small enough to evict, a threshold with cardinality, and a
// query rule with a tight rate limit.
func stateRules(t *testing.T) ([]*detect.Rule, detect.Options) {
	q, err := eql.Compile(`sequence by host.id with maxspan=30s [process where process.name == "a"] [process where process.name == "b"] [process where process.name == "c"]`, eql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := detect.NewEQLRule(detect.RuleMeta{ID: "seq", Name: "seq", Type: "eql", Severity: "high"}, q)
	if err != nil {
		t.Fatal(err)
	}
	match, fields := kqlRule(t, detect.RuleMeta{}, "event.category:process")
	nt, err := detect.NewNewTermsRule(detect.RuleMeta{ID: "nt", Name: "nt", Type: "new_terms", Severity: "low",
		NewTermsFields: []string{"process.name"}, HistoryWindow: time.Minute}, match, fields)
	if err != nil {
		t.Fatal(err)
	}
	th, err := detect.NewThresholdRule(detect.RuleMeta{ID: "th", Name: "th", Type: "threshold", Severity: "low", From: time.Minute},
		match, fields, detect.Threshold{Fields: []string{"host.id"}, Value: 4, CardinalityField: "process.name", Cardinality: 2})
	if err != nil {
		t.Fatal(err)
	}
	lim := detect.NewQueryRule(detect.RuleMeta{ID: "lim", Name: "lim", Type: "query", Severity: "low",
		MaxSignals: 2, Interval: 20 * time.Second}, match, fields)
	return []*detect.Rule{seq, nt, th, lim}, detect.Options{MaxTerms: 4}
}

func stateEvents() []*ecs.Event {
	names := []string{"a", "b", "x", "c", "a", "y", "b", "z", "c", "q", "a", "b", "w", "c"}
	var evs []*ecs.Event
	for i := 0; i < 80; i++ {
		host := []string{"h1", "h2", "h3"}[i%3]
		evs = append(evs, event(int64(1000+i*3), fmt.Sprintf("e%d", i), map[string]any{
			"event.category": "process", "host.id": host, "process.name": names[(i/3)%len(names)]}))
	}
	return evs
}

func alertIDs(e *detect.Engine, evs []*ecs.Event, from int, after func()) []string {
	var ids []string
	for i, ev := range evs {
		ev.Seq = uint64(from + i + 1)
		e.Process(ev, func(a *detect.Alert) { ids = append(ids, a.ID) })
		if after != nil {
			after()
		}
	}
	return ids
}

// An engine restored from the deltas it handed over is the engine that
// ran: for every split point, the alerts before it plus the restored
// engine's after it are exactly one uninterrupted run's.
func TestDeltasRestoreTheEngineAtEverySplit(t *testing.T) {
	rules, opts := stateRules(t)
	evs := stateEvents()
	want := alertIDs(detect.NewEngine(rules, opts), evs, 0, nil)
	if len(want) < 10 {
		t.Fatalf("the scenario raises only %d alerts", len(want))
	}
	for split := 0; split <= len(evs); split++ {
		var st fakeStore
		first := detect.NewEngine(rules, opts)
		got := alertIDs(first, stateEvents()[:split], 0, func() {
			d, err := first.TakeDelta()
			if err != nil {
				t.Fatal(err)
			}
			st.apply(d)
		})
		second := detect.NewEngine(rules, opts)
		if err := second.RestoreState(st.state()); err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		got = append(got, alertIDs(second, stateEvents()[split:], split, nil)...)
		if !slices.Equal(got, want) {
			t.Fatalf("split %d: %d alerts, want %d\n got %v\nwant %v", split, len(got), len(want), got, want)
		}
		if a := second.Stats(); a.Events != int64(len(evs)) {
			t.Fatalf("split %d: %d events counted, want %d", split, a.Events, len(evs))
		}
	}
}

// An idle delta carries no sequences or windows: its cost follows what
// changed.
func TestIdleDeltaIsSmall(t *testing.T) {
	rules, opts := stateRules(t)
	e := detect.NewEngine(rules, opts)
	alertIDs(e, stateEvents()[:10], 0, nil)
	if _, err := e.TakeDelta(); err != nil {
		t.Fatal(err)
	}
	d, err := e.TakeDelta()
	if err != nil {
		t.Fatal(err)
	}
	if d.Sequences != nil || d.Limits != nil || len(d.Terms) != 0 || len(d.Groups) != 0 {
		t.Errorf("idle delta: %d terms, %d groups, sequences %v, limits %v", len(d.Terms), len(d.Groups), d.Sequences != nil, d.Limits != nil)
	}
}
