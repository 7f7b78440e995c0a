package eql

import (
	"errors"
	"testing"
)

// FuzzCompile checks that compiling never panics, that every error is a
// SyntaxError or UnsupportedError, and that compiled queries never panic
// on sample events.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		SeedReverseShell,
		`process where process.name == "bash"`,
		`any where process.args : ("-c", "*/dev/tcp/*") or process.args_count >= 5`,
		`process where process.executable regex~ """/tmp/[a-z]+\s\w""" and ?process.foo == null`,
		`network where not cidrmatch(destination.ip, "10.0.0.0/8", "::1")`,
		`process where startsWith~(process.command_line, process.executable) and length(process.command_line) > 10`,
		`process where between(a, "x", "y", true) == substring(b, -2) and indexOf(c, "q", 1) >= 0`,
		`process where concat(a, 1, 2.5, true) == string(number("0x1f", 16)) and divide(modulo(x, 3), 0) == null`,
		`sequence by host.id with maxspan=5s [process where x < 5] by a [network where true] by b until [process where x == 9] by c`,
		`sequence by ?k [process where x < 5] with runs=3 | tail 2`,
		`process where "\u{1F600}\t\"\\" == a /* c */ // d`,
		`process where a in (1, "2", true, null) and b not in~ ("X") and c like ("a*", "b?")`,
		`sample by host.id [a where true]`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	events := []string{
		`{"event.category":"process","x":1,"a":"xabyc","b":["1","2"],"c":"q q","k":null,"process.name":"bash","process.args":["a","-c"],"process.args_count":"7","destination.ip":"10.1.1.1","host.id":"h"}`,
		`{"event.category":["process","network"],"x":9.5,"a":true,"b":3,"process.executable":"/tmp/x","process.command_line":"/tmp/x y","destination.ip":["::1","bad"]}`,
		`{"event.category":"network","x":"abc","a":[1,2,null],"process.pid":-1}`,
		`{}`,
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		q, err := Compile(src, Options{})
		if err != nil {
			var se *SyntaxError
			var ue *UnsupportedError
			if !errors.As(err, &se) && !errors.As(err, &ue) {
				t.Fatalf("Compile(%q) returned %T: %v", src, err, err)
			}
			return
		}
		evs := stream(t, events...)
		if q.Event != nil {
			for _, ev := range evs {
				q.Event(ev)
			}
			return
		}
		m := q.Sequence.NewMatcher(Limits{MaxPending: 8})
		for i := 0; i < 3; i++ {
			for _, ev := range evs {
				for _, s := range m.Push(ev) {
					if len(s) != len(q.Sequence.Steps) {
						t.Fatalf("sequence of %d events for %d steps", len(s), len(q.Sequence.Steps))
					}
				}
			}
		}
		state, err := m.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Sequence.NewMatcher(Limits{}).Restore(state); err != nil {
			t.Fatalf("restoring own snapshot: %v", err)
		}
	})
}
