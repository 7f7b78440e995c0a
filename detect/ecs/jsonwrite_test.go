package ecs

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"testing"
)

// TestStreamedJSONMatchesNested: the streaming writer produces byte for
// byte what building nested maps and encoding them produces, over random
// events with awkward names and values; events with clashing names fall
// back to the nested path.
func TestStreamedJSONMatchesNested(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	segs := []string{"a", "b", "a-x", "process", "name", "x_y", "@t", "é", "B"}
	strs := []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\b\f\n\r\t\x1f\x7f", "bad\xff\xfeutf8",
		"sep\u2028\u2029", "<html>&", "ünïcödé", "emoji 🙂"}
	scalar := func() Value {
		switch rng.Intn(6) {
		case 0:
			return IntVal(rng.Int63n(1e12) - 5e11)
		case 1:
			return FloatVal([]float64{0.5, -1e-9, 1e21, 3, math.Inf(1), math.NaN(), 123456.789}[rng.Intn(7)])
		case 2:
			return BoolVal(rng.Intn(2) == 0)
		case 3:
			return NullVal()
		}
		return Str(strs[rng.Intn(len(strs))])
	}
	clashes, streamed := 0, 0
	for i := 0; i < 3000; i++ {
		ev := &Event{Time: rng.Int63n(2e12)}
		for n := rng.Intn(8); n > 0; n-- {
			name := segs[rng.Intn(len(segs))]
			for d := rng.Intn(3); d > 0; d-- {
				name += "." + segs[rng.Intn(len(segs))]
			}
			f, ok := FieldOf("jsontest." + name)
			if rng.Intn(5) == 0 {
				f, ok = FieldOf(name)
			}
			if !ok {
				t.Fatal("field registry full")
			}
			v := scalar()
			if rng.Intn(4) == 0 {
				v = ArrayOf(scalar(), scalar())
			}
			ev.Set(f, v)
		}
		want, err := ev.marshalNested()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ev.appendNestedJSON(nil)
		if !ok {
			clashes++
			continue
		}
		streamed++
		if string(got) != string(want) {
			t.Fatalf("event %d:\nstreamed %s\nnested   %s", i, got, want)
		}
		if app, err := ev.AppendJSON([]byte("prefix,")); err != nil || string(app) != "prefix,"+string(want) {
			t.Fatalf("event %d: AppendJSON = %s, %v", i, app, err)
		}
	}
	if streamed < 1000 || clashes == 0 {
		t.Errorf("%d events streamed, %d fell back: the test does not cover both paths", streamed, clashes)
	}
}

// FuzzJSONString: strings are quoted exactly as encoding/json quotes them
// with HTML escaping off.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\b\f\x7f", "\xff\u2028é", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimRight(buf.Bytes(), "\n")
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json says %s", s, got, want)
		}
	})
}
