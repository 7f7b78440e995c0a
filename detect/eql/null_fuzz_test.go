package eql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/eventfile"
)

// The null, missing-field and multi-valued rules, checked against a
// reference evaluator written separately from the compiler: a few lines
// of three-valued logic over the values of each field, as Elasticsearch's
// EQL documents it (eql-syntax.html: comparisons with null are null, not
// null is null, null and false is false, null or true is true; == null and
// != null test absence and presence; a multi-valued field satisfies a
// comparison when one of its values does, != when none equals).
//
// Events are generated JSON read the way `query` reads them (eventfile),
// so arrays of objects are flattened by the real reader.

// tri is a three-valued truth: 1 true, 0 false, -1 null.
type tri int

const (
	tNull  tri = -1
	tFalse tri = 0
	tTrue  tri = 1
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

func (a tri) not() tri {
	if a == tNull {
		return tNull
	}
	return 1 - a
}

func (a tri) and(b tri) tri {
	if a == tFalse || b == tFalse {
		return tFalse
	}
	if a == tNull || b == tNull {
		return tNull
	}
	return tTrue
}

func (a tri) or(b tri) tri {
	if a == tTrue || b == tTrue {
		return tTrue
	}
	if a == tNull || b == tNull {
		return tNull
	}
	return tFalse
}

// refEvent is a generated event: the integer values of fields a and o.v
// (o is an array of objects) and the string values of c; nil when absent.
type refEvent struct {
	ints map[string][]int
	strs []string
	json string
}

// refCond is a generated condition: its EQL text and its reference value.
type refCond struct {
	src  string
	eval func(ev *refEvent) tri
}

type gen struct {
	data []byte
	i    int
}

func (g *gen) next(n int) int {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return int(b) % n
}

func (g *gen) event() *refEvent {
	ev := &refEvent{ints: map[string][]int{}}
	var parts []string
	// a: missing, null, a number, or an array of numbers and nulls.
	switch g.next(4) {
	case 1:
		parts = append(parts, `"a": null`)
	case 2:
		k := g.next(3)
		ev.ints["a"] = []int{k}
		parts = append(parts, fmt.Sprintf(`"a": %d`, k))
	case 3:
		var elems []string
		for n := g.next(3); n >= 0; n-- {
			if g.next(3) == 0 {
				elems = append(elems, "null")
				continue
			}
			k := g.next(3)
			ev.ints["a"] = append(ev.ints["a"], k)
			elems = append(elems, fmt.Sprint(k))
		}
		parts = append(parts, `"a": [`+strings.Join(elems, ", ")+`]`)
	}
	// o: an array of objects, each with or without v.
	if g.next(2) == 1 {
		var objs []string
		for n := g.next(3); n >= 0; n-- {
			if g.next(3) == 0 {
				objs = append(objs, `{"w": 1}`)
				continue
			}
			k := g.next(3)
			ev.ints["o.v"] = append(ev.ints["o.v"], k)
			objs = append(objs, fmt.Sprintf(`{"v": %d}`, k))
		}
		parts = append(parts, `"o": [`+strings.Join(objs, ", ")+`]`)
	}
	// c: missing, or one or two strings.
	words := []string{"x", "xy", "X", "yx"}
	switch g.next(3) {
	case 1:
		s := words[g.next(4)]
		ev.strs = []string{s}
		parts = append(parts, fmt.Sprintf(`"c": %q`, s))
	case 2:
		s, t := words[g.next(4)], words[g.next(4)]
		ev.strs = []string{s, t}
		parts = append(parts, fmt.Sprintf(`"c": [%q, %q]`, s, t))
	}
	parts = append(parts, `"@timestamp": 1`, `"event": {"category": "process"}`)
	ev.json = "{" + strings.Join(parts, ", ") + "}"
	return ev
}

// some is the value of a comparison over a multi-valued field: null when
// it has no value, else whether some value passes.
func some[T any](vals []T, pass func(T) bool) tri {
	if len(vals) == 0 {
		return tNull
	}
	for _, v := range vals {
		if pass(v) {
			return tTrue
		}
	}
	return tFalse
}

func (g *gen) cond(depth int) refCond {
	if depth > 0 {
		switch g.next(5) {
		case 0:
			x := g.cond(depth - 1)
			return refCond{"not (" + x.src + ")", func(ev *refEvent) tri { return x.eval(ev).not() }}
		case 1:
			l, r := g.cond(depth-1), g.cond(depth-1)
			return refCond{"(" + l.src + ") and (" + r.src + ")", func(ev *refEvent) tri { return l.eval(ev).and(r.eval(ev)) }}
		case 2:
			l, r := g.cond(depth-1), g.cond(depth-1)
			return refCond{"(" + l.src + ") or (" + r.src + ")", func(ev *refEvent) tri { return l.eval(ev).or(r.eval(ev)) }}
		}
	}
	field := []string{"a", "o.v"}[g.next(2)]
	k := g.next(3)
	ints := func(ev *refEvent) []int { return ev.ints[field] }
	switch g.next(12) {
	case 0:
		return refCond{fmt.Sprintf("%s == %d", field, k), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return v == k }) }}
	case 1:
		return refCond{fmt.Sprintf("%s != %d", field, k), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return v == k }).not() }}
	case 2:
		return refCond{fmt.Sprintf("%s < %d", field, k), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return v < k }) }}
	case 3:
		return refCond{fmt.Sprintf("%d <= %s", k, field), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return k <= v }) }}
	case 4:
		return refCond{field + " == null", func(ev *refEvent) tri { return triOf(len(ints(ev)) == 0) }}
	case 5:
		return refCond{field + " != null", func(ev *refEvent) tri { return triOf(len(ints(ev)) > 0) }}
	case 6:
		return refCond{fmt.Sprintf("%s in (%d, 7)", field, k), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return v == k }) }}
	case 7:
		return refCond{fmt.Sprintf("%s not in (%d, 7)", field, k), func(ev *refEvent) tri { return some(ints(ev), func(v int) bool { return v == k }).not() }}
	case 8:
		return refCond{fmt.Sprintf("null == (%s > %d)", field, k), func(ev *refEvent) tri { return triOf(len(ints(ev)) == 0) }}
	case 9:
		return refCond{`c : "x*"`, func(ev *refEvent) tri {
			return some(ev.strs, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), "x") })
		}}
	case 10:
		return refCond{`c == "X"`, func(ev *refEvent) tri { return some(ev.strs, func(s string) bool { return s == "X" }) }}
	default:
		return refCond{`startsWith(c, "x")`, func(ev *refEvent) tri { return some(ev.strs, func(s string) bool { return strings.HasPrefix(s, "x") }) }}
	}
}

func checkNullSemantics(t *testing.T, data []byte) {
	g := &gen{data: data}
	c := g.cond(3)
	q, err := Compile("process where "+c.src, Options{})
	if err != nil {
		t.Fatalf("%s: %v", c.src, err)
	}
	for n := 0; n < 4; n++ {
		ev := g.event()
		events, bad, err := eventfile.Read(strings.NewReader(ev.json), "gen", eventfile.Options{})
		if err != nil || len(bad) > 0 || len(events) != 1 {
			t.Fatalf("reading %s: %v %v", ev.json, err, bad)
		}
		want := c.eval(ev) == tTrue
		if got := q.Event(events[0].Event); got != want {
			t.Fatalf("%s on %s = %v, reference says %v", c.src, ev.json, got, want)
		}
	}
}

// TestNullSemanticsRandom runs the comparison on pseudo-random input in
// `make test`; FuzzNullSemantics explores further in `make fuzz`.
func TestNullSemanticsRandom(t *testing.T) {
	state := uint64(1)
	for i := 0; i < 3000; i++ {
		data := make([]byte, 48)
		for j := range data {
			state = state*6364136223846793005 + 1442695040888963407
			data[j] = byte(state >> 56)
		}
		checkNullSemantics(t, data)
	}
}

func FuzzNullSemantics(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0, 1, 8, 2, 3, 1, 3, 2, 2, 1, 0, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256 {
			return
		}
		checkNullSemantics(t, data)
	})
}
