package extension

import (
	"testing"
	"time"
)

func TestIdleReturnAfterBusyTicksOnly(t *testing.T) {
	var m idleReturn
	t0 := time.Unix(1000, 0)
	steps := []struct {
		rows int
		at   time.Duration
		want bool
	}{
		{0, 0, false},                 // idle from the start: nothing to return
		{500, time.Second, false},     // busy
		{0, 2 * time.Second, true},    // falls idle: return
		{0, 3 * time.Second, false},   // still idle: already returned
		{100, 4 * time.Second, false}, // busy again
		{0, 5 * time.Second, false},   // idle, but within the gap since the last return
		{0, 13 * time.Second, true},   // the gap has passed
	}
	for i, s := range steps {
		if got := m.observe(s.rows, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d (%d rows at %s): returned %v, want %v", i, s.rows, s.at, got, s.want)
		}
	}
	// A tick that wrote the whole process cache returns memory, busy or not.
	m.bulky = true
	if !m.observe(700, t0.Add(30*time.Second)) || m.bulky {
		t.Fatal("memory not returned after writing the process cache")
	}
}
