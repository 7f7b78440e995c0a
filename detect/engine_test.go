package detect_test

import (
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
	"github.com/osqdetect/osqdetect/detect/kql"
)

func kqlRule(t *testing.T, meta detect.RuleMeta, query string) (ecs.Predicate, []string) {
	t.Helper()
	q, err := kql.Compile(query)
	if err != nil {
		t.Fatalf("compiling %q: %v", query, err)
	}
	return q.Match, q.Fields
}

// event builds an event at second sec with string or string-list fields.
func event(sec int64, id string, fields map[string]any) *ecs.Event {
	ev := &ecs.Event{Time: sec * 1000}
	ev.Set(ecs.EventID, ecs.Str(id))
	for name, v := range fields {
		f, _ := ecs.FieldOf(name)
		switch x := v.(type) {
		case string:
			ev.Set(f, ecs.Str(x))
		case []string:
			ev.Set(f, ecs.Strs(x))
		}
	}
	return ev
}

func collect(e *detect.Engine, events ...*ecs.Event) []*detect.Alert {
	var out []*detect.Alert
	for i, ev := range events {
		ev.Seq = uint64(i + 1)
		e.Process(ev, func(a *detect.Alert) { out = append(out, a) })
	}
	return out
}

func TestNewTermsArraysAndCombinations(t *testing.T) {
	meta := detect.RuleMeta{ID: "nt", Name: "new terms", Type: "new_terms", Severity: "low",
		NewTermsFields: []string{"host.id", "process.args"}, HistoryWindow: 24 * time.Hour}
	match, fields := kqlRule(t, meta, "event.category:process")
	r, err := detect.NewNewTermsRule(meta, match, fields)
	if err != nil {
		t.Fatal(err)
	}
	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	alerts := collect(e,
		event(100, "e1", map[string]any{"event.category": "process", "host.id": "h", "process.args": []string{"a", "b", "a"}}),
		event(200, "e2", map[string]any{"event.category": "process", "host.id": "h", "process.args": []string{"b", "c"}}),
		event(300, "e3", map[string]any{"event.category": "process", "process.args": []string{"z"}}),       // no host.id: no term
		event(400, "e4", map[string]any{"event.category": "network", "host.id": "h", "process.args": "q"}), // not matched
	)
	// e1 yields terms (h,a) and (h,b); e2 only (h,c) is new.
	if len(alerts) != 3 {
		t.Fatalf("got %d alerts, want 3", len(alerts))
	}
	ids := map[string]bool{}
	for _, a := range alerts {
		ids[a.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("alerts of one event with several new terms share an id")
	}
	dirty := e.DirtyTerms()
	if len(dirty) != 3 {
		t.Errorf("dirty terms = %d, want 3: %+v", len(dirty), dirty)
	}
	if len(e.DirtyTerms()) != 0 {
		t.Error("dirty terms not cleared after being taken")
	}

	// Restored history makes the terms known to a fresh engine.
	e2 := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	e2.LoadTerms(dirty)
	if got := collect(e2, event(500, "e5", map[string]any{"event.category": "process", "host.id": "h", "process.args": []string{"a", "d"}})); len(got) != 1 {
		t.Errorf("after restore: %d alerts, want only (h,d)", len(got))
	}
}

func TestTermHistoryBounded(t *testing.T) {
	meta := detect.RuleMeta{ID: "nt", Name: "nt", Type: "new_terms", Severity: "low",
		NewTermsFields: []string{"process.name"}, HistoryWindow: time.Hour}
	match, fields := kqlRule(t, meta, "process.name:*")
	r, _ := detect.NewNewTermsRule(meta, match, fields)
	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{MaxTerms: 100})
	for i := 0; i < 1000; i++ {
		collect(e, event(int64(i), "x", map[string]any{"process.name": string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))}))
	}
	st := e.Stats()
	if st.Terms > 100 || st.TermsEvicted == 0 {
		t.Errorf("history not bounded: %d terms, %d evicted", st.Terms, st.TermsEvicted)
	}
}

func TestRateLimitSuppresses(t *testing.T) {
	meta := detect.RuleMeta{ID: "q", Name: "q", Type: "query", Severity: "high", MaxSignals: 2, Interval: time.Minute}
	match, fields := kqlRule(t, meta, "process.name:x")
	r := detect.NewQueryRule(meta, match, fields)
	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	var evs []*ecs.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, event(int64(10+i), "a"+string(rune('0'+i)), map[string]any{"process.name": "x"}))
	}
	evs = append(evs, event(70, "next-interval", map[string]any{"process.name": "x"}))
	alerts := collect(e, evs...)
	if len(alerts) != 3 {
		t.Errorf("got %d alerts, want 2 in the first minute and 1 in the next", len(alerts))
	}
	if st := e.Stats(); st.Suppressed != 3 || st.PerRule["q"].Suppressed != 3 {
		t.Errorf("suppressed = %d, want 3", st.Suppressed)
	}
	// Disabled, nothing is suppressed.
	e = detect.NewEngine([]*detect.Rule{r}, detect.Options{DisableRateLimit: true})
	if got := collect(e, evs...); len(got) != 6 {
		t.Errorf("without rate limit: %d alerts, want 6", len(got))
	}
}

func TestThreshold(t *testing.T) {
	meta := detect.RuleMeta{ID: "th", Name: "th", Type: "threshold", Severity: "medium", From: time.Minute}
	match, fields := kqlRule(t, meta, "event.action:kill")
	r, err := detect.NewThresholdRule(meta, match, fields, detect.Threshold{Fields: []string{"host.id"}, Value: 3, CardinalityField: "process.name", Cardinality: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	kill := func(sec int64, host, name string) *ecs.Event {
		return event(sec, host+name, map[string]any{"event.action": "kill", "host.id": host, "process.name": name})
	}
	alerts := collect(e,
		kill(1, "h1", "a"), kill(2, "h1", "a"), kill(3, "h1", "a"), // count reached, cardinality 1: no alert
		kill(4, "h1", "b"),                     // cardinality 2: alert
		kill(5, "h1", "c"),                     // already alerted in this window
		kill(6, "h2", "a"), kill(7, "h2", "b"), // only 2 events
		kill(100, "h1", "x"), kill(101, "h1", "y"), kill(102, "h1", "z"), // a new window: alert again
	)
	if len(alerts) != 2 {
		t.Fatalf("got %d threshold alerts, want 2", len(alerts))
	}
	if alerts[0].HostID != "h1" || alerts[0].Time != 4 {
		t.Errorf("first alert on %s at %d, want h1 at 4", alerts[0].HostID, alerts[0].Time)
	}
}

func TestSequenceStateSurvivesRestart(t *testing.T) {
	meta := detect.RuleMeta{ID: "seq", Name: "seq", Type: "eql", Severity: "high"}
	q, err := eql.Compile(`sequence by host.id with maxspan=1m [process where process.name == "a"] [process where process.name == "b"]`, eql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := detect.NewEQLRule(meta, q)
	if err != nil {
		t.Fatal(err)
	}
	first := event(10, "e1", map[string]any{"event.category": "process", "host.id": "h", "process.name": "a"})
	second := event(20, "e2", map[string]any{"event.category": "process", "host.id": "h", "process.name": "b"})

	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	collect(e, first)
	state, err := e.SequenceState()
	if err != nil {
		t.Fatal(err)
	}
	if e.Stats().PendingSequences != 1 {
		t.Fatalf("pending = %d, want 1", e.Stats().PendingSequences)
	}
	restarted := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	if err := restarted.RestoreSequences(state); err != nil {
		t.Fatal(err)
	}
	second.Seq = 2
	var alerts []*detect.Alert
	restarted.Process(second, func(a *detect.Alert) { alerts = append(alerts, a) })
	if len(alerts) != 1 {
		t.Fatalf("after restart: %d alerts, want the completed sequence", len(alerts))
	}
	// The id is the one an uninterrupted engine gives.
	straight := collect(detect.NewEngine([]*detect.Rule{r}, detect.Options{}), first, second)
	if len(straight) != 1 || straight[0].ID != alerts[0].ID {
		t.Errorf("restart changed the alert id")
	}
	if err := restarted.RestoreSequences([]byte("{not json")); err == nil {
		t.Error("corrupt sequence state accepted")
	}
}

func TestAlertIDDeterministic(t *testing.T) {
	a := detect.AlertID("rule", []string{"e1", "e2"}, "")
	if a != detect.AlertID("rule", []string{"e1", "e2"}, "") {
		t.Fatal("same inputs, different ids")
	}
	for _, other := range []string{
		detect.AlertID("rule2", []string{"e1", "e2"}, ""),
		detect.AlertID("rule", []string{"e2", "e1"}, ""),
		detect.AlertID("rule", []string{"e1e2"}, ""),
		detect.AlertID("rule", []string{"e1", "e2"}, "term"),
	} {
		if other == a {
			t.Errorf("different inputs share id %s", a)
		}
	}
}

// TestIndexKeysThatFoldShorter: a case-insensitive pattern whose inner text
// lower-cases to fewer bytes (the Kelvin sign becomes "k") still keys the
// index, and the rule is reached by the values it matches.
func TestIndexKeysThatFoldShorter(t *testing.T) {
	meta := detect.RuleMeta{ID: "kelvin", Name: "kelvin", Type: "eql", Severity: "low"}
	q, err := eql.Compile("process where process.args : \"*\u212a*\"", eql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := detect.NewEQLRule(meta, q)
	if err != nil {
		t.Fatal(err)
	}
	e := detect.NewEngine([]*detect.Rule{r}, detect.Options{})
	hit := event(10, "e1", map[string]any{"event.category": "process", "process.args": []string{"ls", "bake"}})
	miss := event(11, "e2", map[string]any{"event.category": "process", "process.args": []string{"ls", "-la"}})
	if got := len(collect(e, hit, miss)); got != 1 {
		t.Fatalf("%d alerts, want 1 (for the argument containing k)", got)
	}
}
