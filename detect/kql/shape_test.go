package kql

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

func TestCanMatch(t *testing.T) {
	field := func(name string) ecs.Field {
		f, ok := ecs.FieldOf(name)
		if !ok {
			t.Fatal("field registry full")
		}
		return f
	}
	shape := ecs.ShapeOf(ecs.DefineShape(ecs.Shape{
		Name: "test/exec",
		Const: map[ecs.Field]ecs.Value{
			field("event.category"): ecs.Str("process"),
			field("event.type"):     ecs.Str("start"),
			field("host.os.type"):   ecs.Str("linux"),
		},
		Fields: []ecs.Field{field("process.name"), field("process.args"), field("process.pid")},
	}))
	events := []map[string]any{
		{"event.category": "process", "event.type": "start", "host.os.type": "linux"},
		{"event.category": "process", "event.type": "start", "host.os.type": "linux",
			"process.name": "ln", "process.args": []any{"ln", "-s", "/bin/bash", "/tmp/x"}, "process.pid": 7},
	}
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
