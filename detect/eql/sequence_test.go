package eql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

var idField, _ = ecs.FieldOf("id")

// ids renders matched sequences as "[1 2] [2 3]".
func ids(seqs [][]*ecs.Event) string {
	var parts []string
	for _, s := range seqs {
		var xs []string
		for _, ev := range s {
			v := ev.Get(idField)
			txt, _ := v.Text()
			xs = append(xs, txt)
		}
		parts = append(parts, "["+strings.Join(xs, " ")+"]")
	}
	return strings.Join(parts, " ")
}

// stream builds events from JSON objects; "t" is the time in ms and "id"
// identifies the event. Seq follows the order given.
func stream(t testing.TB, objs ...string) []*ecs.Event {
	t.Helper()
	evs := make([]*ecs.Event, len(objs))
	tField, _ := ecs.FieldOf("t")
	for i, js := range objs {
		ev := event(t, js)
		ev.Time = ev.Get(tField).Int()
		ev.Seq = uint64(i + 1)
		if ev.Get(idField).Kind == ecs.Missing {
			ev.Set(idField, ecs.IntVal(int64(i+1)))
		}
		evs[i] = ev
	}
	return evs
}

func run(m *Matcher, evs []*ecs.Event) [][]*ecs.Event {
	var out [][]*ecs.Event
	for _, ev := range evs {
		out = append(out, m.Push(ev)...)
	}
	return out
}

func xs(n int) []string {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = fmt.Sprintf(`{"event.category":"process","x":%d,"t":%d}`, i+1, (i+1)*10)
	}
	return objs
}

func TestSequences(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		events []string
		want   string
	}{
		{"advance one and start another", `sequence [process where x < 5] [process where x < 5]`, xs(4), "[1 2] [2 3] [3 4]"},
		{"three steps overlapping", `sequence [process where x <= 3] [process where true] [process where true]`, xs(5), "[1 2 3] [2 3 4] [3 4 5]"},
		{"runs expands the step", `sequence [process where x < 5] with runs=2`, xs(4), "[1 2] [2 3] [3 4]"},
		{"runs inside a longer sequence", `sequence [process where x == 1] [process where x > 1] with runs=3`, xs(5), "[1 2 3 4]"},
		{"single step", `sequence [process where x > 3]`, xs(5), "[4] [5]"},
		{"category per step", `sequence [process where true] [network where true]`, []string{
			`{"event.category":"network","id":1}`,
			`{"event.category":"process","id":2}`,
			`{"event.category":"process","id":3}`,
			`{"event.category":"network","id":4}`,
		}, "[3 4]"},
		{"newest pending wins", `sequence by k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","k":"a","x":1,"id":1}`,
			`{"event.category":"process","k":"a","x":1,"id":2}`,
			`{"event.category":"process","k":"a","x":2,"id":3}`,
			`{"event.category":"process","k":"a","x":2,"id":4}`,
		}, "[2 3]"},
		{"keys isolate sequences", `sequence by k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","k":"a","x":1,"id":1}`,
			`{"event.category":"process","k":"b","x":1,"id":2}`,
			`{"event.category":"process","k":"b","x":2,"id":3}`,
			`{"event.category":"process","k":"c","x":2,"id":4}`,
			`{"event.category":"process","k":"a","x":2,"id":5}`,
		}, "[2 3] [1 5]"},
		{"numeric and text keys join", `sequence by k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","k":7,"x":1,"id":1}`,
			`{"event.category":"process","k":"7","x":2,"id":2}`,
		}, "[1 2]"},
		{"array keys join on equal arrays", `sequence by k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","k":["a","b"],"x":1,"id":1}`,
			`{"event.category":"process","k":["a"],"x":2,"id":2}`,
			`{"event.category":"process","k":["a","b"],"x":2,"id":3}`,
		}, "[1 3]"},
		{"missing keys never join", `sequence by k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","x":1,"id":1}`,
			`{"event.category":"process","x":2,"id":2}`,
			`{"event.category":"process","k":null,"x":1,"id":3}`,
			`{"event.category":"process","k":null,"x":2,"id":4}`,
		}, ""},
		{"optional keys join on null", `sequence by ?k [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","x":1,"id":1}`,
			`{"event.category":"process","k":null,"x":2,"id":2}`,
		}, "[1 2]"},
		{"per-step keys join parent to child", `sequence by host [process where x == 1] by pid [process where x == 2] by ppid`, []string{
			`{"event.category":"process","host":"h","pid":10,"x":1,"id":1}`,
			`{"event.category":"process","host":"h","pid":11,"ppid":99,"x":2,"id":2}`,
			`{"event.category":"process","host":"g","pid":12,"ppid":10,"x":2,"id":3}`,
			`{"event.category":"process","host":"h","pid":12,"ppid":10,"x":2,"id":4}`,
		}, "[1 4]"},
		{"maxspan is inclusive", `sequence with maxspan=1s [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","x":1,"t":1000,"id":1}`,
			`{"event.category":"process","x":2,"t":2000,"id":2}`,
		}, "[1 2]"},
		{"maxspan exceeded", `sequence with maxspan=1s [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","x":1,"t":1000,"id":1}`,
			`{"event.category":"process","x":2,"t":2001,"id":2}`,
		}, ""},
		{"maxspan from the first event", `sequence with maxspan=100ms [process where x == 1] [process where x == 2] [process where x == 3]`, []string{
			`{"event.category":"process","x":1,"t":0,"id":1}`,
			`{"event.category":"process","x":2,"t":60,"id":2}`,
			`{"event.category":"process","x":3,"t":120,"id":3}`,
			`{"event.category":"process","x":1,"t":200,"id":4}`,
			`{"event.category":"process","x":2,"t":250,"id":5}`,
			`{"event.category":"process","x":3,"t":300,"id":6}`,
		}, "[4 5 6]"},
		{"same time still ordered by stream", `sequence with maxspan=1ms [process where x == 1] [process where x == 2]`, []string{
			`{"event.category":"process","x":2,"t":5,"id":1}`,
			`{"event.category":"process","x":1,"t":5,"id":2}`,
			`{"event.category":"process","x":2,"t":5,"id":3}`,
		}, "[2 3]"},
		{"until kills pending of its key", `sequence by k [process where x == 1] [process where x == 2] until [process where x == 9]`, []string{
			`{"event.category":"process","k":"a","x":1,"id":1}`,
			`{"event.category":"process","k":"b","x":1,"id":2}`,
			`{"event.category":"process","k":"a","x":9,"id":3}`,
			`{"event.category":"process","k":"a","x":2,"id":4}`,
			`{"event.category":"process","k":"b","x":2,"id":5}`,
			`{"event.category":"process","k":"a","x":1,"id":6}`,
			`{"event.category":"process","k":"a","x":2,"id":7}`,
			`{"event.category":"process","k":"a","x":9,"id":8}`,
		}, "[2 5] [6 7]"},
		{"until kills later stages too", `sequence by k [process where x == 1] [process where x == 2] [process where x == 3] until [process where x == 9]`, []string{
			`{"event.category":"process","k":"a","x":1,"id":1}`,
			`{"event.category":"process","k":"a","x":2,"id":2}`,
			`{"event.category":"process","k":"a","x":9,"id":3}`,
			`{"event.category":"process","k":"a","x":3,"id":4}`,
		}, ""},
		{"event fills one step per sequence only", `sequence [process where true] [process where true] [process where true]`, xs(3), "[1 2 3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := mustCompile(t, tt.query)
			got := ids(run(q.Sequence.NewMatcher(Limits{}), stream(t, tt.events...)))
			if got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.query, got, tt.want)
			}
		})
	}
}

func seedQuery(t testing.TB) *Query {
	t.Helper()
	q, err := Compile(SeedReverseShell, Options{})
	if err != nil {
		t.Fatalf("seed query: %v", err)
	}
	return q
}

// The reverse shell of the seed rule: a shell runs a binary from /tmp, the
// binary connects out, then execs a shell (entity id survives the exec).
func reverseShell(host, entity string, t0 int64) []string {
	return []string{
		fmt.Sprintf(`{"event.category":"process","event.type":"start","event.action":"exec","host.os.type":"linux","host.id":%q,"process.entity_id":%q,"process.executable":"/tmp/x","process.name":"x","process.parent.name":"bash","t":%d}`, host, entity, t0),
		fmt.Sprintf(`{"event.category":"network","event.type":"start","event.action":"connection_attempted","host.os.type":"linux","host.id":%q,"process.entity_id":%q,"process.executable":"/tmp/x","destination.ip":"203.0.113.9","t":%d}`, host, entity, t0+200),
		fmt.Sprintf(`{"event.category":"process","event.type":"start","event.action":"exec","host.os.type":"linux","host.id":%q,"process.entity_id":%q,"process.executable":"/bin/sh","process.name":"sh","process.parent.name":"bash","t":%d}`, host, entity, t0+400),
	}
}

func TestSeedReverseShell(t *testing.T) {
	q := seedQuery(t)
	if q.Sequence.MaxSpan != time.Second || len(q.Sequence.Steps) != 3 {
		t.Fatalf("seed compiled to maxspan %v, %d steps", q.Sequence.MaxSpan, len(q.Sequence.Steps))
	}
	local := reverseShell("h1", "e2", 5000)
	local[1] = strings.Replace(local[1], "203.0.113.9", "127.0.0.1", 1)
	noIP := reverseShell("h1", "e3", 8000)
	noIP[1] = strings.Replace(noIP[1], `"destination.ip":"203.0.113.9",`, "", 1)
	curl := reverseShell("h1", "e4", 11000)
	curl[0] = strings.Replace(curl[0], `"process.name":"x"`, `"process.name":"CURL"`, 1)
	slow := reverseShell("h1", "e5", 14000)
	slow[2] = strings.Replace(slow[2], `"t":14400`, `"t":15001`, 1)
	var objs []string
	objs = append(objs, reverseShell("h1", "e1", 1000)...)
	objs = append(objs, local...)
	objs = append(objs, noIP...)
	objs = append(objs, curl...)
	objs = append(objs, slow...)
	got := ids(run(q.Sequence.NewMatcher(Limits{}), stream(t, objs...)))
	if got != "[1 2 3]" {
		t.Errorf("got %q, want only the first reverse shell [1 2 3]", got)
	}
}

func TestMatcherCopiesEvents(t *testing.T) {
	q := mustCompile(t, `sequence [process where x == 1] [process where x == 2]`)
	m := q.Sequence.NewMatcher(Limits{})
	xf, _ := ecs.FieldOf("x")
	buf := event(t, `{"event.category":"process","x":1,"id":1}`)
	if out := m.Push(buf); len(out) != 0 {
		t.Fatalf("unexpected match %v", ids(out))
	}
	// The caller reuses its buffer for the next event.
	buf.Set(xf, ecs.IntVal(2))
	buf.Set(idField, ecs.IntVal(2))
	out := m.Push(buf)
	if got := ids(out); got != "[1 2]" {
		t.Fatalf("got %q, want [1 2]", got)
	}
	if out[0][0] == buf || out[0][1] == buf {
		t.Errorf("matcher returned the caller's buffer instead of a copy")
	}
}

func TestPendingBounded(t *testing.T) {
	q := mustCompile(t, `sequence by k [process where x == 1] [process where x == 2]`)
	m := q.Sequence.NewMatcher(Limits{MaxPending: 3})
	var objs []string
	for i := 1; i <= 10; i++ {
		objs = append(objs, fmt.Sprintf(`{"event.category":"process","k":"k%d","x":1,"id":%d}`, i, i))
	}
	run(m, stream(t, objs...))
	if m.Pending() != 3 || m.Dropped() != 7 {
		t.Fatalf("Pending %d Dropped %d, want 3 and 7", m.Pending(), m.Dropped())
	}
	// The oldest were dropped: k1 no longer completes, k10 does.
	got := ids(run(m, stream(t,
		`{"event.category":"process","k":"k1","x":2,"id":11}`,
		`{"event.category":"process","k":"k10","x":2,"id":12}`,
	)))
	if got != "[10 12]" {
		t.Errorf("got %q, want [10 12]", got)
	}
	if m.Pending() != 2 {
		t.Errorf("Pending %d after completion, want 2", m.Pending())
	}
}

func TestPendingExpires(t *testing.T) {
	q := mustCompile(t, `sequence by k with maxspan=1s [process where x == 1] [process where x == 2]`)
	m := q.Sequence.NewMatcher(Limits{})
	run(m, stream(t,
		`{"event.category":"process","k":"a","x":1,"t":0}`,
		`{"event.category":"process","k":"b","x":1,"t":500}`,
	))
	if m.Pending() != 2 {
		t.Fatalf("Pending %d, want 2", m.Pending())
	}
	run(m, stream(t, `{"event.category":"process","k":"z","x":0,"t":1200}`))
	if m.Pending() != 1 {
		t.Errorf("Pending %d after 1.2s, want 1 (a expired)", m.Pending())
	}
	run(m, stream(t, `{"event.category":"process","k":"z","x":0,"t":1501}`))
	if m.Pending() != 0 {
		t.Errorf("Pending %d after 1.501s, want 0", m.Pending())
	}

	// Without maxspan, NoSpanTTL bounds the wait.
	q = mustCompile(t, `sequence by k [process where x == 1] [process where x == 2]`)
	m = q.Sequence.NewMatcher(Limits{NoSpanTTL: time.Minute})
	got := ids(run(m, stream(t,
		`{"event.category":"process","k":"a","x":1,"t":0,"id":1}`,
		`{"event.category":"process","k":"b","x":1,"t":1000,"id":2}`,
		`{"event.category":"process","k":"a","x":2,"t":60001,"id":3}`,
		`{"event.category":"process","k":"b","x":2,"t":61000,"id":4}`,
	)))
	if got != "[2 4]" {
		t.Errorf("got %q, want [2 4] (a expired after a minute)", got)
	}
	m = q.Sequence.NewMatcher(Limits{NoSpanTTL: -1})
	got = ids(run(m, stream(t,
		`{"event.category":"process","k":"a","x":1,"t":0,"id":1}`,
		`{"event.category":"process","k":"a","x":2,"t":86400000,"id":2}`,
	)))
	if got != "[1 2]" {
		t.Errorf("got %q with no TTL, want [1 2]", got)
	}
}

func TestSnapshotRestore(t *testing.T) {
	q := mustCompile(t, `sequence by k [process where x == 1] [process where x == 2] [process where x == 3]`)
	events := stream(t,
		`{"event.category":"process","k":"a","x":1,"id":1,"f":1.5,"n":3,"b":true,"arr":["p",2,null],"s":"txt"}`,
		`{"event.category":"process","k":"a","x":2,"id":2,"f":2.0}`,
		`{"event.category":"process","k":"b","x":1,"id":3}`,
		`{"event.category":"process","k":"a","x":3,"id":4}`,
		`{"event.category":"process","k":"b","x":2,"id":5}`,
		`{"event.category":"process","k":"b","x":3,"id":6}`,
	)
	events[0].Time, events[0].Seq = 1234567, 42

	whole := ids(run(q.Sequence.NewMatcher(Limits{}), events))
	if whole != "[1 2 4] [3 5 6]" {
		t.Fatalf("uninterrupted run got %q", whole)
	}
	m := q.Sequence.NewMatcher(Limits{})
	run(m, events[:3])
	state, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := q.Sequence.NewMatcher(Limits{})
	if err := restored.Restore(state); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if restored.Pending() != 2 {
		t.Fatalf("restored Pending %d, want 2", restored.Pending())
	}
	out := run(restored, events[3:])
	if got := ids(out); got != whole {
		t.Fatalf("after restore got %q, want %q", got, whole)
	}
	// The first event round-trips with time, seq and exact kinds.
	first := out[0][0]
	if first.Time != 1234567 || first.Seq != 42 {
		t.Errorf("restored Time %d Seq %d", first.Time, first.Seq)
	}
	for name, want := range map[string]ecs.Value{
		"f":   ecs.FloatVal(1.5),
		"n":   ecs.IntVal(3),
		"b":   ecs.BoolVal(true),
		"s":   ecs.Str("txt"),
		"arr": ecs.ArrayOf(ecs.Str("p"), ecs.IntVal(2), ecs.NullVal()),
	} {
		f, _ := ecs.FieldOf(name)
		got := first.Get(f)
		if got.Kind != want.Kind || !got.Equal(want) {
			t.Errorf("field %s restored as %+v, want %+v", name, got, want)
		}
	}
	fF, _ := ecs.FieldOf("f")
	if k := out[0][1].Get(fF).Kind; k != ecs.Float {
		t.Errorf("2.0 restored as kind %v, want float", k)
	}
	if first.Len() != events[0].Len() {
		t.Errorf("restored %d fields, want %d", first.Len(), events[0].Len())
	}

	// A snapshot of another query, or garbage, is refused and leaves the
	// matcher empty.
	other := mustCompile(t, `sequence by k [process where x == 1] [process where x == 5] [process where x == 3]`)
	om := other.Sequence.NewMatcher(Limits{})
	if err := om.Restore(state); err == nil {
		t.Errorf("restoring another query's state succeeded")
	}
	for _, bad := range []string{``, `{`, `{"version":9}`, `[]`} {
		if err := restored.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%q) succeeded", bad)
		}
		if restored.Pending() != 0 {
			t.Errorf("Restore(%q) left %d pending", bad, restored.Pending())
		}
	}
	// A snapshot with a bad stage is refused.
	tampered := strings.Replace(string(state), `"stage":0`, `"stage":7`, 1)
	if err := q.Sequence.NewMatcher(Limits{}).Restore([]byte(tampered)); err == nil {
		t.Errorf("Restore with a bad stage succeeded")
	}
}

// TestLaterStepsWaitForEarlier: a step's condition runs only when a
// sequence waits at the step before it, and until only when some sequence
// is pending — the matches are the same either way.
func TestLaterStepsWaitForEarlier(t *testing.T) {
	q := mustCompile(t, `sequence by k [process where x == 1] [process where x == 2] [process where x == 3] until [process where x == 9]`)
	m := q.Sequence.NewMatcher(Limits{})
	calls := make([]int, len(m.seq.Steps)+1)
	counted := func(i int, p ecs.Predicate) ecs.Predicate {
		return func(ev *ecs.Event) bool { calls[i]++; return p(ev) }
	}
	steps := append([]Step(nil), q.Sequence.Steps...)
	for i := range steps {
		steps[i].Where = counted(i, steps[i].Where)
	}
	until := *q.Sequence.Until
	until.Where = counted(len(steps), until.Where)
	m.seq = &Sequence{Steps: steps, Until: &until, catField: q.Sequence.catField}

	push := func(objs ...string) string { return ids(run(m, stream(t, objs...))) }
	push(`{"event.category":"process","k":"a","x":2}`, `{"event.category":"process","k":"a","x":3}`,
		`{"event.category":"process","k":"a","x":9}`)
	if want := []int{3, 0, 0, 0}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("with nothing pending: condition calls %v, want %v (only the first step's)", calls, want)
	}
	clear(calls)
	push(`{"event.category":"process","k":"a","x":1}`, `{"event.category":"process","k":"b","x":3}`)
	if want := []int{2, 1, 0, 1}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("with one sequence at step 1: condition calls %v, want %v (steps 1 and 2, until)", calls, want)
	}
	if got := push(`{"event.category":"process","k":"a","x":2,"id":7}`, `{"event.category":"process","k":"a","x":3,"id":8}`); got != "[1 7 8]" {
		t.Errorf("got %q, want [1 7 8]", got)
	}
}
