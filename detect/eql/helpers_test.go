package eql

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// event builds an event from a JSON object (dotted or nested names).
func event(t testing.TB, js string) *ecs.Event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("bad test event %s: %v", js, err)
	}
	ev, err := ecs.FromJSON(obj)
	if err != nil {
		t.Fatalf("bad test event %s: %v", js, err)
	}
	return ev
}

func mustCompile(t testing.TB, src string) *Query {
	t.Helper()
	q, err := Compile(src, Options{})
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return q
}
