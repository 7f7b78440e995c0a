package kql

import (
	"errors"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// fuzzEvents are a few events of different shapes to run compiled queries on.
func fuzzEvents(t testing.TB) []*ecs.Event {
	return []*ecs.Event{
		ev(t, seedEvent()),
		ev(t, map[string]any{}),
		ev(t, map[string]any{
			"a": []any{"x", 1, true, nil, 2.5}, "b": nil, "c": "", "destination.ip": []any{"10.0.0.1", "zz", "::1"},
			"process.args_count": "3", "process.name": "python3", "x": 7,
		}),
	}
}

func FuzzCompile(f *testing.F) {
	seeds := []string{
		seedQuery,
		`a:b`, `a:(b or c and not d)`, `not a:*`, `a >= 3`, `a:"q\"x"`, `a:x\:y*`, `a:{b:c}`, `free text`,
		`destination.ip:(10.0.0.0/8 or "::1")`, `a:(* curl* or x)`, `((a:b)`, `a:\u0041`, "a:b\nor\n(c:d)",
		`process.args:((-t or --target*) and not --net=/run/netns/* and not (--assertion and snap))`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	events := fuzzEvents(f)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			var ue *UnsupportedError
			line, col := 0, 0
			switch {
			case errors.As(err, &se):
				line, col = se.Line, se.Col
			case errors.As(err, &ue):
				line, col = ue.Line, ue.Col
			default:
				t.Fatalf("Compile(%q) returned %T %v, want *SyntaxError or *UnsupportedError", src, err, err)
			}
			if line < 1 || col < 1 || line > strings.Count(src, "\n")+1 {
				t.Fatalf("Compile(%q): position %d:%d outside the query", src, line, col)
			}
			return
		}
		for _, e := range events {
			q.Match(e)
		}
		_ = q.String()
	})
}
