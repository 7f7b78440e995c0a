package kql

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

// execShape is a process start shape like the normalizer's.
func execShape(t *testing.T) *ecs.Shape {
	t.Helper()
	field := func(name string) ecs.Field {
		f, ok := ecs.FieldOf(name)
		if !ok {
			t.Fatal("field registry full")
		}
		return f
	}
	return ecs.ShapeOf(ecs.DefineShape(ecs.Shape{
		Name: "test/exec",
		Const: map[ecs.Field]ecs.Value{
			field("event.category"): ecs.Str("process"),
			field("event.type"):     ecs.Str("start"),
			field("host.os.type"):   ecs.Str("linux"),
		},
		Fields: []ecs.Field{field("process.name"), field("process.args"), field("process.pid")},
	}))
}

// execEvents are events of execShape.
var execEvents = []map[string]any{
	{"event.category": "process", "event.type": "start", "host.os.type": "linux"},
	{"event.category": "process", "event.type": "start", "host.os.type": "linux",
		"process.name": "ln", "process.args": []any{"ln", "-s", "/bin/bash", "/tmp/x"}, "process.pid": 7},
	{"event.category": "process", "event.type": "start", "host.os.type": "linux",
		"process.name": "curl", "process.pid": 8},
}

func TestCanMatch(t *testing.T) {
	shape := execShape(t)
	events := execEvents
	cases := []struct {
		query string
		want  bool
	}{
		{`process.name:ln`, true},
		{`event.category:process and process.name:ln`, true},
		{`event.category:network and process.name:ln`, false},
		{`event.category:(network or process)`, true},
		{`host.os.type:linux and event.type:end`, false},
		{`not event.type:start`, false},
		{`not event.type:end`, true},
		{`event.type:st*`, true},
		// Fields the shape never carries are missing.
		{`file.path:*`, false},
		{`not file.path:*`, true},
		{`file.path:/tmp/* or process.name:ln`, true},
		{`file.path:/tmp/* and process.name:ln`, false},
		{`file.size > 10`, false},
		{`process.pid > 10`, true},
	}
	for _, c := range cases {
		q := mustCompile(t, c.query)
		if got := q.CanMatch(shape); got != c.want {
			t.Errorf("CanMatch(%s) = %v, want %v", c.query, got, c.want)
		}
		if !q.CanMatch(nil) {
			t.Errorf("CanMatch(%s) on the unknown shape = false", c.query)
		}
		if q.CanMatch(shape) {
			continue
		}
		for _, fields := range events {
			if q.Match(ev(t, fields)) {
				t.Errorf("%s was ruled out for the shape but matches %v", c.query, fields)
			}
		}
	}
}

// TestMatchFor: a query specialised for a shape decides as the query does
// on every event of the shape, and no longer reads the fields the shape
// settles (events without them show which conditions were decided).
func TestMatchFor(t *testing.T) {
	shape := execShape(t)
	events := func(objs []map[string]any) []*ecs.Event {
		evs := make([]*ecs.Event, len(objs))
		for i, fields := range objs {
			evs[i] = ev(t, fields)
		}
		return evs
	}
	shaped := events(execEvents)
	unshaped := events([]map[string]any{ // events of the shape without its constant fields
		{"process.name": "ln", "process.args": []any{"ln", "-s"}},
		{"process.name": "curl"},
	})
	cases := []struct {
		query string
		bare  string // the specialised query's decisions on bare
	}{
		{`process.name:ln`, "10"},
		{`event.category:process and process.name:ln`, "10"},
		{`event.category:network or process.name:curl`, "01"},
		{`host.os.type:linux and event.type:start and not process.name:ln`, "01"},
		{`not (event.type:start and process.name:ln)`, "01"},
		{`file.path:/tmp/* or process.args:"-s"`, "10"},
		{`not file.path:* and process.name:*`, "11"},
		{`event.type:st*`, "11"},
		{`event.type:end and process.name:ln`, "00"},
	}
	for _, c := range cases {
		q := mustCompile(t, c.query)
		testutil.CheckSpecialised(t, c.query, q.MatchFor(shape), q.Match, shaped, unshaped, c.bare)
	}
	if mustCompile(t, `process.name:ln`).MatchFor(nil) == nil {
		t.Error("MatchFor(nil) is nil, want Match")
	}
}
