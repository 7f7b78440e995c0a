package ecs

import (
	"math"
	"strings"
	"testing"
)

// TestPackRoundTrip: every kind of value, empty events and long strings
// come back from Pack and Unpack as they went in: same header, same
// fields, same JSON.
func TestPackRoundTrip(t *testing.T) {
	a, b := field(t, "test.packed.a"), field(t, "test.packed.b")
	for _, tc := range []struct {
		name string
		set  func(*Event)
	}{
		{"no fields", func(*Event) {}},
		{"strings", func(e *Event) {
			e.Set(ProcessName, Str("bash"))
			e.Set(a, Str(""))
			e.Set(b, Str(strings.Repeat("x", 300))) // a length of two varint bytes
		}},
		{"numbers and bools", func(e *Event) {
			e.Set(ProcessPid, IntVal(-42))
			e.Set(a, FloatVal(math.Pi))
			e.Set(b, BoolVal(true))
			e.Set(ProcessArgsCount, IntVal(math.MaxInt64))
		}},
		{"null and arrays", func(e *Event) {
			e.Set(a, NullVal())
			e.Set(ProcessArgs, Strs([]string{"ln", "-s", "", "/tmp/x"}))
			e.Set(b, ArrayOf(IntVal(1), NullVal(), Str("z"), BoolVal(false), FloatVal(0.5)))
			e.Set(ProcessName, ArrayOf())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev Event
			tc.set(&ev)
			ev.Time, ev.Seq, ev.Shape = 1763800000123, 99, 3
			p := Pack(&ev)
			if p.IsZero() || p.Time() != ev.Time || p.Seq() != ev.Seq {
				t.Fatalf("packed header: zero %v time %d seq %d", p.IsZero(), p.Time(), p.Seq())
			}
			got := p.Unpack()
			if got.Time != ev.Time || got.Seq != ev.Seq || got.Shape != ev.Shape || got.Len() != ev.Len() {
				t.Fatalf("unpacked %+v (%d fields), packed %+v (%d fields)", got, got.Len(), ev, ev.Len())
			}
			ev.Range(func(f Field, v Value) {
				if w := got.Get(f); !w.Equal(v) || w.Kind != v.Kind {
					t.Errorf("field %s: packed %#v, unpacked %#v", f.Name(), v, w)
				}
			})
			want, _ := ev.MarshalJSON()
			gotJSON, _ := got.MarshalJSON()
			if string(want) != string(gotJSON) {
				t.Errorf("JSON differs:\n%s\n%s", want, gotJSON)
			}
			if again := Pack(got); again != p {
				t.Errorf("packing the unpacked event gave other bytes")
			}
		})
	}
}

// TestPackCompletes: a deferred event is completed before it is packed,
// and the packing does not change when the event is reused.
func TestPackCompletes(t *testing.T) {
	var ev Event
	ev.Set(ProcessName, Str("sh"))
	ev.Defer(func(e *Event) { e.Set(ProcessTitle, Str("sh -i")) })
	p := Pack(&ev)
	ev.Reset()
	ev.Set(ProcessName, Str("other"))
	got := p.Unpack()
	if got.Get(ProcessTitle).Str != "sh -i" || got.Get(ProcessName).Str != "sh" {
		t.Errorf("unpacked %v %v, want the completed original", got.Get(ProcessName), got.Get(ProcessTitle))
	}
	if (Packed{}).IsZero() != true || Pack(&ev) == p {
		t.Errorf("zero or equality of packings is wrong")
	}
}

// FuzzUnpack: bytes Pack did not write are reported, never a panic, and
// whatever unpacks packs back to the same bytes.
func FuzzUnpack(f *testing.F) {
	var ev Event
	ev.Set(ProcessName, Str("bash"))
	ev.Set(ProcessArgs, Strs([]string{"bash", "-c", "id"}))
	ev.Set(ProcessPid, IntVal(7))
	ev.Time = 5
	f.Add(Pack(&ev).s)
	f.Add("")
	f.Add(strings.Repeat("\x00", packedHeader))
	f.Fuzz(func(t *testing.T, data string) {
		e, err := unpack(data)
		if err != nil {
			return
		}
		if again := Pack(e); again.s != data {
			t.Fatalf("unpacked and packed again:\n%q\nwant\n%q", again.s, data)
		}
	})
}

// BenchmarkPack: packing a process event of the size the sensor makes,
// the copy a sequence keeps of each event that fills its first step.
func BenchmarkPack(b *testing.B) {
	var ev Event
	ev.Set(ProcessName, Str("bash"))
	ev.Set(ProcessExecutable, Str("/usr/bin/bash"))
	ev.Set(ProcessCommandLine, Str("bash -c /usr/local/bin/backup.sh"))
	ev.Set(ProcessArgs, Strs([]string{"bash", "-c", "/usr/local/bin/backup.sh"}))
	ev.Set(ProcessPid, IntVal(4242))
	ev.Set(EventCategory, Str("process"))
	ev.Set(EventType, Str("start"))
	ev.Set(EventAction, Str("exec"))
	ev.Set(HostID, Str("bench-host"))
	ev.Set(ParentName, Str("sshd"))
	ev.Set(ParentExecutable, Str("/usr/sbin/sshd"))
	b.Run("Pack", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = Pack(&ev)
		}
	})
	b.Run("Clone", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = ev.Clone()
		}
	})
}
