package eql

import (
	"fmt"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

// execShape is a process start shape like the osquery normalizer's: the
// event.* fields fixed, a few process fields carried, the rest never set.
func execShape(t *testing.T) *ecs.Shape {
	t.Helper()
	_, s := execShapeID(t)
	return s
}

// execShapeID defines an execShape and returns its id too.
func execShapeID(t *testing.T) (ecs.ShapeID, *ecs.Shape) {
	t.Helper()
	field := func(name string) ecs.Field {
		f, ok := ecs.FieldOf(name)
		if !ok {
			t.Fatal("field registry full")
		}
		return f
	}
	id := ecs.DefineShape(ecs.Shape{
		Name: "test/exec",
		Const: map[ecs.Field]ecs.Value{
			field("event.category"): ecs.Str("process"),
			field("event.type"):     ecs.Str("start"),
			field("event.action"):   ecs.Str("exec"),
			field("host.os.type"):   ecs.Str("linux"),
		},
		Fields: []ecs.Field{field("process.name"), field("process.args"), field("process.pid"), field("user.id")},
	})
	return id, ecs.ShapeOf(id)
}

// Events of execShape, to check that a query ruled out matches none.
var execEvents = []string{
	`{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux"}`,
	`{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux",
	  "process.name": "bash", "process.args": ["bash", "-c", "id"], "process.pid": 10, "user.id": "0"}`,
	`{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux",
	  "process.name": "curl", "process.args": ["curl", "-s"], "process.pid": 11, "user.id": "1000"}`,
}

func TestCanMatch(t *testing.T) {
	shape := execShape(t)
	cases := []struct {
		query string
		want  bool
	}{
		{`process where process.name == "bash"`, true},
		{`network where process.name == "bash"`, false},
		{`any where event.category == "network"`, false},
		{`process where event.action == "executed"`, false},
		{`process where event.action in ("exec", "executed")`, true},
		{`process where event.action : ("EXEC*")`, true},
		{`process where event.type == "start" and not event.type == "start"`, false},
		{`process where host.os.type == "windows" or process.name == "cmd.exe"`, true},
		{`process where host.os.type == "windows" and process.name == "cmd.exe"`, false},
		// Fields the shape never carries are missing: comparisons fail,
		// != and not (must_not) succeed, except a negated ordering
		// comparison (flipped) and a negated script (still null); null
		// tests succeed.
		{`any where auditd.data.syscall == "socket"`, false},
		{`any where auditd.data.syscall != "socket"`, true},
		{`any where not auditd.data.syscall == "socket"`, true},
		{`any where not (auditd.data.syscall == "socket" and process.name == "x")`, true},
		{`any where not (auditd.data.syscall == "socket" or process.name == "x")`, true},
		{`any where not auditd.data.a0 > "1"`, false},
		{`any where not endsWith(auditd.data.a0, "1")`, false},
		{`any where not not auditd.data.a0 > "1"`, false},
		{`process where ?file.path == null`, true},
		{`process where ?file.path != null`, false},
		{`process where file.path : "*.so" or process.name == "ld"`, true},
		{`process where file.path : "*.so" and process.name == "ld"`, false},
		{`process where startsWith(event.action, "ex")`, true},
		{`process where startsWith(event.action, "zz") and process.pid > 1`, false},
		{`process where length(file.name) > 3`, false},
		// Unknown fields leave the verdict open.
		{`process where user.id != "0"`, true},
		// A sequence can match while any step or its until can.
		{`sequence [network where true] [process where true]`, true},
		{`sequence [network where true] [file where true]`, false},
		{`sequence by process.pid [network where true] [file where true] until [process where true]`, true},
	}
	for _, c := range cases {
		q := mustCompile(t, c.query)
		if got := q.CanMatch(shape); got != c.want {
			t.Errorf("CanMatch(%s) = %v, want %v", c.query, got, c.want)
		}
		if !q.CanMatch(nil) {
			t.Errorf("CanMatch(%s) on the unknown shape = false", c.query)
		}
		if q.Event == nil || q.CanMatch(shape) {
			continue
		}
		for _, js := range execEvents {
			if q.Event(event(t, js)) {
				t.Errorf("%s was ruled out for the shape but matches %s", c.query, js)
			}
		}
	}
}

func TestPrefiltersFor(t *testing.T) {
	shape := execShape(t)
	cases := []struct {
		query string
		want  string // the prefilters for the shape, "never" or "none"
	}{
		// The network step cannot match a process start: only the
		// process step keys the index.
		{`sequence [network where process.name == "nc"] [process where process.name == "sh"]`, `process.name=[sh]`},
		{`sequence [process where process.name == "nc"] [process where process.name == "sh"]`, `process.name=[nc sh]`},
		// A condition the shape settles tells nothing: the other one keys.
		{`process where event.action == "exec" and process.name == "id"`, `process.name=[id]`},
		{`process where event.action == "exec"`, `none`},
		// A branch the shape rules out needs nothing.
		{`process where event.action == "executed" or process.name == "id"`, `process.name=[id]`},
		{`process where host.os.type == "linux" or process.name == "id"`, `none`},
		{`network where process.name == "id"`, `never`},
		{`process where event.action == "exit" and process.name == "id"`, `never`},
	}
	for _, c := range cases {
		q := mustCompile(t, c.query)
		pfs := q.PrefiltersFor(shape)
		got := "none"
		switch {
		case pfs != nil && len(pfs) == 0:
			got = "never"
		case pfs != nil:
			got = ""
			for i, p := range pfs {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s=%v", p.Field, p.Values)
			}
		}
		if got != c.want {
			t.Errorf("PrefiltersFor(%s) = %s, want %s", c.query, got, c.want)
		}
	}
}

// TestMatcherSkipsStepsTheShapeRulesOut: a sequence matcher trusts an
// event's shape, so a network event labelled with a process start shape
// never fills the network step, while unlabelled it does.
func TestMatcherSkipsStepsTheShapeRulesOut(t *testing.T) {
	id, _ := execShapeID(t)
	q := mustCompile(t, `sequence by process.pid [network where process.name == "nc"] [process where process.name == "sh"]`)
	for _, c := range []struct {
		label ecs.ShapeID
		want  int
	}{{0, 1}, {id, 0}} {
		m := q.Sequence.NewMatcher(Limits{})
		conn := event(t, `{"event.category": "network", "process.name": "nc", "process.pid": 7}`)
		conn.Time, conn.Shape = 1000, c.label
		exec := event(t, `{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux", "process.name": "sh", "process.pid": 7}`)
		exec.Time, exec.Shape = 1001, id
		got := len(m.Push(conn)) + len(m.Push(exec))
		if got != c.want {
			t.Errorf("network event labelled with shape %d: %d sequences, want %d", c.label, got, c.want)
		}
	}
}

func TestTargets(t *testing.T) {
	shape := execShape(t)
	render := func(ts []ecs.Target) string {
		out := ""
		for _, tg := range ts {
			out += fmt.Sprintf("[%x:", tg.Steps)
			for _, c := range tg.Clauses {
				for _, p := range c {
					out += fmt.Sprintf(" %s=%v%v", p.Field, p.Values, p.Contains)
				}
				out += ";"
			}
			out += "]"
		}
		return out
	}
	cases := []struct {
		query string
		shape *ecs.Shape
		want  string
	}{
		{`process where process.name == "sh" and process.args : "*base64*"`, nil,
			`[ffffffffffffffff: process.name=[sh][]; process.args=[][base64];]`},
		// Each step is its own target; runs=2 repeats a step under one.
		{`sequence [network where process.name == "nc"] with runs=2 [process where process.name == "sh"] until [process where process.name == "kill"]`, nil,
			`[3: process.name=[nc][];][4: process.name=[sh][];][8000000000000000: process.name=[kill][];]`},
		// A step the shape rules out is no target; one it settles entirely
		// sees every event of it.
		{`sequence [network where process.name == "nc"] [process where event.action == "exec"]`, shape,
			`[2:]`},
		{`sequence [network where process.name == "nc"] [file where true]`, shape, ``},
	}
	for _, c := range cases {
		q := mustCompile(t, c.query)
		if got := render(q.Targets(c.shape)); got != c.want {
			t.Errorf("Targets(%s) = %s\nwant %s", c.query, got, c.want)
		}
	}
}

// TestEventFor: a query specialised for a shape decides as the query does
// on every event of the shape, and no longer reads the fields the shape
// settles (an event missing them, which the shape promises cannot happen,
// shows which conditions were decided when compiling).
func TestEventFor(t *testing.T) {
	shape := execShape(t)
	bare := []string{ // events of the shape without its constant fields
		`{"process.name": "bash", "process.args": ["bash", "-c", "id"], "user.id": "0"}`,
		`{"process.name": "curl", "user.id": "1000"}`,
	}
	cases := []struct {
		query string
		bare  string // what the specialised query decides on bare: "11", "01", ...
	}{
		{`process where process.name == "bash"`, "10"},
		{`process where event.type == "start" and process.name == "bash"`, "10"},
		{`process where event.type == "end" or process.name == "curl"`, "01"},
		{`process where host.os.type == "linux" and event.action in ("exec", "fork") and user.id == "0"`, "10"},
		{`process where not (event.action == "exec" and process.name == "bash")`, "01"},
		{`process where not event.action == "fork" and (process.name == "bash" or event.type == "start")`, "11"},
		{`process where ?file.path == null and process.name != null`, "11"},
		{`process where file.path : "*.so" or process.name == "curl"`, "01"},
		{`process where startsWith(event.action, "ex") and user.id != "0"`, "01"},
		{`network where process.name == "bash"`, "00"},
		{`any where event.category == "process" and process.args == "-c"`, "10"},
		{`process where event.type == "start"`, "11"},
		{`process where event.type == "start" and event.type != "start"`, "00"},
	}
	events := func(objs []string) []*ecs.Event {
		evs := make([]*ecs.Event, len(objs))
		for i, js := range objs {
			evs[i] = event(t, js)
		}
		return evs
	}
	shaped, unshaped := events(execEvents), events(bare)
	for _, c := range cases {
		q := mustCompile(t, c.query)
		testutil.CheckSpecialised(t, c.query, q.EventFor(shape), q.Event, shaped, unshaped, c.bare)
	}
	if q := mustCompile(t, `process where process.name == "bash"`); q.EventFor(nil) == nil {
		t.Error("EventFor(nil) is nil, want the query's own predicate")
	}
}

// TestSequenceStepsForShape: a matcher fed events of a shape uses the steps
// specialised for it, and finds the same sequences.
func TestSequenceStepsForShape(t *testing.T) {
	id, _ := execShapeID(t)
	q := mustCompile(t, `sequence by user.id [process where event.type == "start" and process.name == "curl"] [process where event.action == "exec" and process.name == "bash"] until [process where event.type == "end"]`)
	whole := stream(t,
		`{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux", "process.name": "curl", "user.id": "0", "id": 1}`,
		`{"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux", "process.name": "bash", "user.id": "0", "id": 2}`,
	)
	bare := stream(t,
		`{"process.name": "curl", "user.id": "0", "id": 1}`,
		`{"process.name": "bash", "user.id": "0", "id": 2}`,
	)
	if got := ids(run(q.Sequence.NewMatcher(Limits{}), whole)); got != "[1 2]" {
		t.Fatalf("unshaped events: %q, want [1 2]", got)
	}
	if got := ids(run(q.Sequence.NewMatcher(Limits{}), bare)); got != "" {
		t.Fatalf("unshaped events without the constants: %q, want none", got)
	}
	for _, evs := range [][]*ecs.Event{whole, bare} {
		for _, ev := range evs {
			ev.Shape = id
		}
		if got := ids(run(q.Sequence.NewMatcher(Limits{}), evs)); got != "[1 2]" {
			t.Errorf("events of the shape: %q, want [1 2]", got)
		}
	}
}
