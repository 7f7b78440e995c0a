package eql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/eventfile"
)

// The null, missing-field, negation and multi-valued rules, checked
// against a reference evaluator written separately from the compiler,
// from what Elasticsearch does (see null.go for the sources): a
// comparison of a field with constants is a query, true when some value
// of the field satisfies it; `not` over it and `!=` are must_not (true on
// a missing field), except that a negated ordering comparison is replaced
// by the opposite comparison; a condition on computed values is a script,
// three-valued, selected only when true, and `not` of it is its
// three-valued negation; `not` over and/or is the complement.
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

// refEvent is a generated event: the integer values of fields a and o.v
// (o is an array of objects) and the string values of c; nil when absent.
type refEvent struct {
	ints map[string][]int
	strs []string
	json string
}

// refCond is a generated condition: its EQL text and how the reference
// judges it as a query.
type refCond struct {
	src  string
	pred func(ev *refEvent) bool
	// flip is the opposite comparison of an ordering comparison.
	flip *refCond
	// script is the three-valued value of a condition Elasticsearch runs
	// as a script; nil for queries.
	script func(ev *refEvent) tri
	// inner is the negated condition of a `not`; compound is set for
	// and/or.
	inner    *refCond
	compound bool
}

func queryCond(src string, pred func(ev *refEvent) bool) refCond {
	return refCond{src: src, pred: pred}
}

func scriptCond(src string, value func(ev *refEvent) tri) refCond {
	return refCond{src: src, pred: func(ev *refEvent) bool { return value(ev) == tTrue }, script: value}
}

func notCond(x refCond) refCond {
	c := refCond{src: "not (" + x.src + ")", inner: &x}
	switch {
	case x.inner != nil:
		c.pred = x.inner.pred
	case x.flip != nil:
		c.pred = x.flip.pred
	case x.script != nil:
		c.pred = func(ev *refEvent) bool { return x.script(ev).not() == tTrue }
	default:
		c.pred = func(ev *refEvent) bool { return !x.pred(ev) }
	}
	return c
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
	// s: missing, null or one number (arithmetic reads one value).
	switch g.next(3) {
	case 1:
		parts = append(parts, `"s": null`)
	case 2:
		k := g.next(3)
		ev.ints["s"] = []int{k}
		parts = append(parts, fmt.Sprintf(`"s": %d`, k))
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

// some reports whether some value passes: a query on a multi-valued
// field.
func some[T any](vals []T, pass func(T) bool) bool {
	for _, v := range vals {
		if pass(v) {
			return true
		}
	}
	return false
}

func (g *gen) cond(depth int) refCond {
	if depth > 0 {
		switch g.next(5) {
		case 0:
			return notCond(g.cond(depth - 1))
		case 1:
			l, r := g.cond(depth-1), g.cond(depth-1)
			return refCond{src: "(" + l.src + ") and (" + r.src + ")", compound: true,
				pred: func(ev *refEvent) bool { return l.pred(ev) && r.pred(ev) }}
		case 2:
			l, r := g.cond(depth-1), g.cond(depth-1)
			return refCond{src: "(" + l.src + ") or (" + r.src + ")", compound: true,
				pred: func(ev *refEvent) bool { return l.pred(ev) || r.pred(ev) }}
		}
	}
	field := []string{"a", "o.v"}[g.next(2)]
	k := g.next(3)
	ints := func(ev *refEvent) []int { return ev.ints[field] }
	single := func(ev *refEvent) (int, bool) {
		if v := ev.ints["s"]; len(v) == 1 {
			return v[0], true
		}
		return 0, false
	}
	ordering := func(src string, pass func(v int) bool, flipSrc string, flipPass func(v int) bool) refCond {
		flip := queryCond(flipSrc, func(ev *refEvent) bool { return some(ints(ev), flipPass) })
		c := queryCond(src, func(ev *refEvent) bool { return some(ints(ev), pass) })
		c.flip = &flip
		return c
	}
	switch g.next(15) {
	case 0:
		return queryCond(fmt.Sprintf("%s == %d", field, k), func(ev *refEvent) bool { return some(ints(ev), func(v int) bool { return v == k }) })
	case 1:
		return queryCond(fmt.Sprintf("%s != %d", field, k), func(ev *refEvent) bool { return !some(ints(ev), func(v int) bool { return v == k }) })
	case 2:
		return ordering(fmt.Sprintf("%s < %d", field, k), func(v int) bool { return v < k },
			fmt.Sprintf("%s >= %d", field, k), func(v int) bool { return v >= k })
	case 3:
		return ordering(fmt.Sprintf("%d <= %s", k, field), func(v int) bool { return k <= v },
			fmt.Sprintf("%d > %s", k, field), func(v int) bool { return k > v })
	case 4:
		return queryCond(field+" == null", func(ev *refEvent) bool { return len(ints(ev)) == 0 })
	case 5:
		return queryCond(field+" != null", func(ev *refEvent) bool { return len(ints(ev)) > 0 })
	case 6:
		return queryCond(fmt.Sprintf("%s in (%d, 7)", field, k), func(ev *refEvent) bool { return some(ints(ev), func(v int) bool { return v == k }) })
	case 7:
		return queryCond(fmt.Sprintf("%s not in (%d, 7)", field, k), func(ev *refEvent) bool { return !some(ints(ev), func(v int) bool { return v == k }) })
	case 8:
		// A comparison used as a value is null on a missing field, and
		// null == null.
		return queryCond(fmt.Sprintf("null == (%s > %d)", field, k), func(ev *refEvent) bool { return len(ints(ev)) == 0 })
	case 9:
		return queryCond(`c : "x*"`, func(ev *refEvent) bool {
			return some(ev.strs, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), "x") })
		})
	case 10:
		return queryCond(`c == "X"`, func(ev *refEvent) bool { return some(ev.strs, func(s string) bool { return s == "X" }) })
	case 11:
		return queryCond(`startsWith(c, "x")`, func(ev *refEvent) bool {
			return some(ev.strs, func(s string) bool { return strings.HasPrefix(s, "x") })
		})
	case 12:
		return scriptCond(fmt.Sprintf("s * 1 == %d", k), func(ev *refEvent) tri {
			v, ok := single(ev)
			if !ok {
				return tNull
			}
			return triOf(v == k)
		})
	case 13:
		return scriptCond(fmt.Sprintf("s + 0 != %d", k), func(ev *refEvent) tri {
			v, ok := single(ev)
			if !ok {
				return tNull
			}
			return triOf(v != k)
		})
	default:
		return scriptCond(`endsWith(c, "y")`, func(ev *refEvent) tri {
			if len(ev.strs) == 0 {
				return tNull
			}
			return triOf(some(ev.strs, func(s string) bool { return strings.HasSuffix(s, "y") }))
		})
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
		want := c.pred(ev)
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
