package ecs

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

func field(t testing.TB, name string) Field {
	t.Helper()
	f, ok := FieldOf(name)
	if !ok {
		t.Fatalf("registering %q failed", name)
	}
	return f
}

func TestValueExists(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want bool
	}{
		{"missing", Value{}, false},
		{"null", NullVal(), false},
		{"empty string", Str(""), true},
		{"zero", IntVal(0), true},
		{"false", BoolVal(false), true},
		{"empty array", ArrayOf(), false},
		{"array of nulls", ArrayOf(NullVal(), NullVal()), false},
		{"array with a value", ArrayOf(NullVal(), Str("x")), true},
	}
	for _, tt := range tests {
		if got := tt.v.Exists(); got != tt.want {
			t.Errorf("%s: Exists() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValueConversions(t *testing.T) {
	tests := []struct {
		v       Value
		text    string
		textOK  bool
		num     float64
		numOK   bool
		keyText string
	}{
		{Str("42"), "42", true, 42, true, "42"},
		{Str("x"), "x", true, 0, false, "x"},
		{IntVal(-7), "-7", true, -7, true, "-7"},
		{FloatVal(1.5), "1.5", true, 1.5, true, "1.5"},
		{BoolVal(true), "true", true, 1, true, "true"},
		{NullVal(), "", false, 0, false, ""},
		{Strs([]string{"a", "b"}), "", false, 0, false, "a\x00b"},
	}
	for _, tt := range tests {
		if s, ok := tt.v.Text(); s != tt.text || ok != tt.textOK {
			t.Errorf("%+v.Text() = %q, %v; want %q, %v", tt.v, s, ok, tt.text, tt.textOK)
		}
		if n, ok := tt.v.Number(); n != tt.num || ok != tt.numOK {
			t.Errorf("%+v.Number() = %v, %v; want %v, %v", tt.v, n, ok, tt.num, tt.numOK)
		}
		if k := tt.v.Key(); k != tt.keyText {
			t.Errorf("%+v.Key() = %q, want %q", tt.v, k, tt.keyText)
		}
	}
	if !IntVal(2).Equal(FloatVal(2)) || Str("2").Equal(IntVal(2)) {
		t.Error("Equal: numbers compare across kinds, strings do not equal numbers")
	}
	nested := ArrayOf(Str("a"), ArrayOf(Str("b"), Str("c")))
	if len(nested.Arr) != 3 {
		t.Errorf("ArrayOf does not flatten nested arrays: %+v", nested)
	}
	v := Str("x")
	if e := v.Elems(); len(e) != 1 || e[0].Str != "x" {
		t.Errorf("Elems of a scalar = %+v", e)
	}
	missing := Value{}
	if e := missing.Elems(); len(e) != 0 {
		t.Errorf("Elems of a missing value = %+v", e)
	}
}

func TestEventSetGetResetClone(t *testing.T) {
	a, b := field(t, "test.a"), field(t, "test.b")
	var ev Event
	if ev.Get(a).Kind != Missing || ev.Ref(a) != nil {
		t.Fatal("empty event has a field")
	}
	ev.Set(a, Str("1"))
	ev.Set(b, IntVal(2))
	ev.Set(a, Str("3"))
	ev.SetStr(ProcessName, "")
	if ev.Len() != 2 || ev.Get(a).Str != "3" || ev.Get(b).Int() != 2 {
		t.Fatalf("after sets: len %d a %+v b %+v", ev.Len(), ev.Get(a), ev.Get(b))
	}
	c := ev.Clone()
	ev.Reset()
	if ev.Len() != 0 || ev.Get(a).Kind != Missing {
		t.Fatalf("Reset left fields: %d", ev.Len())
	}
	if c.Get(a).Str != "3" || c.Len() != 2 {
		t.Fatalf("Clone shares state with the original: %+v", c.Get(a))
	}
	ev.Set(a, Value{}) // removing an unset field is a no-op
	if ev.Len() != 0 {
		t.Fatal("setting Missing added a field")
	}
}

func TestMarshalJSONGolden(t *testing.T) {
	ev := &Event{Time: 1763800000123}
	ev.Set(EventCategory, Str("process"))
	ev.Set(ProcessPid, IntVal(42))
	ev.Set(ProcessArgs, Strs([]string{"ln", "-s", "/bin/bash", "/tmp/x"}))
	ev.Set(ParentName, Str("bash"))
	ev.Set(field(t, "process.interactive"), BoolVal(false))
	ev.Set(field(t, "test.ratio"), FloatVal(0.25))
	ev.Set(field(t, "test.nothing"), NullVal())
	got, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "event.golden.json")
	if *testutil.Update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSpace(want)) {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
	// It round-trips through FromJSON.
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	back, err := FromJSON(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Field{EventCategory, ProcessPid, ProcessArgs, ParentName} {
		if !back.Get(f).Equal(ev.Get(f)) {
			t.Errorf("%s: round trip gave %+v, want %+v", f.Name(), back.Get(f), ev.Get(f))
		}
	}
}

func TestFromJSONErrors(t *testing.T) {
	for _, obj := range []map[string]any{
		{"a": struct{}{}},
		{"a": []any{struct{}{}}},
	} {
		if _, err := FromJSON(obj); err == nil {
			t.Errorf("FromJSON(%v) accepted an unsupported value", obj)
		}
	}
}

// Elasticsearch indexes an array of objects as one multi-valued field per
// leaf name ("How arrays of objects are flattened",
// https://www.elastic.co/guide/en/elasticsearch/reference/current/nested.html),
// and a field reached by a dotted key and by an object path is the same
// field (https://www.elastic.co/guide/en/elasticsearch/reference/current/dots-in-names.html).
func TestFromJSONFlattens(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		field string
		want  Value
	}{
		{`{"a":[{"b":1},{"b":2}]}`, "a.b", ArrayOf(IntVal(1), IntVal(2))},
		{`{"a":[{"b":[1,2]},{"b":3},{"c":4}]}`, "a.b", ArrayOf(IntVal(1), IntVal(2), IntVal(3))},
		{`{"a":[{"b":1},{"c":4}]}`, "a.b", ArrayOf(IntVal(1))},
		{`{"a":[{"b":{"c":[{"d":"x"},{"d":"y"}]}}]}`, "a.b.c.d", ArrayOf(Str("x"), Str("y"))},
		{`{"a":[[{"b":1}],[{"b":2}]]}`, "a.b", ArrayOf(IntVal(1), IntVal(2))},
		{`{"a.b":1,"a":{"b":2}}`, "a.b", ArrayOf(IntVal(2), IntVal(1))}, // keys in sorted order
		{`{"a":{"b":1}}`, "a.b", IntVal(1)},
		{`{"a":[]}`, "a", Value{Kind: Array}},
		{`{"a":1e999999}`, "a", FloatVal(math.Inf(1))},
	} {
		dec := json.NewDecoder(strings.NewReader(tc.doc))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		ev, err := FromJSON(obj)
		if err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		f, _ := FieldOf(tc.field)
		got := ev.Get(f)
		if got.Kind == Array && tc.want.Kind == Array && len(got.Arr) == 0 && len(tc.want.Arr) == 0 {
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: %s = %+v, want %+v", tc.doc, tc.field, got, tc.want)
		}
	}
}

func FuzzFromJSON(f *testing.F) {
	f.Add(`{"a":{"b":[1,"x",null,true]},"c.d":1.5}`)
	f.Add(`{"process":{"args":["ln","-s"]},"@timestamp":"2025-01-01T00:00:00Z"}`)
	f.Fuzz(func(t *testing.T, data string) {
		dec := json.NewDecoder(bytes.NewReader([]byte(data)))
		dec.UseNumber()
		var obj map[string]any
		if dec.Decode(&obj) != nil || len(obj) > 64 {
			return
		}
		ev, err := FromJSON(obj)
		if err != nil {
			return
		}
		if _, err := ev.MarshalJSON(); err != nil {
			t.Fatalf("marshaling a decoded event failed: %v", err)
		}
	})
}

func BenchmarkSetReset(b *testing.B) {
	var ev Event
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev.Reset()
		ev.Set(ProcessPid, IntVal(int64(i)))
		ev.Set(ProcessName, Str("bash"))
		ev.Set(ProcessExecutable, Str("/usr/bin/bash"))
		ev.Set(EventCategory, Str("process"))
		_ = ev.Get(ProcessName)
	}
}

// TestCompactCopies: a Clone holds only the present fields and reads and
// writes like the original; writing to it never reaches the original or
// other copies.
func TestCompactCopies(t *testing.T) {
	a, b, c := field(t, "test.compact.a"), field(t, "test.compact.b"), field(t, "test.compact.c")
	var ev Event
	ev.Set(ProcessName, Str("bash"))
	ev.Set(b, ArrayOf(Str("x"), Str("y")))
	ev.Set(a, IntVal(7))
	ev.Time, ev.Seq, ev.Shape = 10, 3, 2
	cp := ev.Clone()
	if len(cp.vals) != 0 || len(cp.compactIDs) != 3 {
		t.Fatalf("copy is not compact: %d slots, %d compact", len(cp.vals), len(cp.compactIDs))
	}
	for _, f := range []Field{ProcessName, a, b, c, Timestamp} {
		if !ev.Get(f).Equal(cp.Get(f)) || (ev.Ref(f) == nil) != (cp.Ref(f) == nil) {
			t.Errorf("field %s: original %v, copy %v", f.Name(), ev.Get(f), cp.Get(f))
		}
	}
	if cp.Time != 10 || cp.Seq != 3 || cp.Shape != 2 || cp.Len() != 3 {
		t.Errorf("copy lost its header or fields: %+v len %d", cp, cp.Len())
	}
	orig, _ := ev.MarshalJSON()
	copied, _ := cp.MarshalJSON()
	if string(orig) != string(copied) {
		t.Errorf("JSON differs:\n%s\n%s", orig, copied)
	}
	second := cp.Clone()
	cp.Set(c, Str("new"))
	cp.Set(a, IntVal(8))
	if cp.Get(c).Str != "new" || cp.Get(a).Int() != 8 || cp.Get(ProcessName).Str != "bash" || cp.Len() != 4 {
		t.Errorf("writing to a copy: %v %v %v len %d", cp.Get(c), cp.Get(a), cp.Get(ProcessName), cp.Len())
	}
	if ev.Get(a).Int() != 7 || second.Get(a).Int() != 7 || second.Ref(c) != nil || ev.Ref(c) != nil {
		t.Errorf("a write to one copy reached another: original a=%v, second copy a=%v c=%v", ev.Get(a), second.Get(a), second.Get(c))
	}
	var order []Field
	second.Range(func(f Field, _ Value) { order = append(order, f) })
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("Range out of field order: %v", order)
		}
	}
	second.Reset()
	if second.Len() != 0 || second.Ref(a) != nil {
		t.Errorf("Reset left fields in a copy")
	}
}

// BenchmarkAppendJSON writes an exec event as normalization fills it (44
// fields) as nested JSON, as every alert does for each of its events.
func BenchmarkAppendJSON(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "exec_event.json"))
	if err != nil {
		b.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		b.Fatal(err)
	}
	ev, err := FromJSON(obj)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = ev.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
