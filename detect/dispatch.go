package detect

import (
	"sort"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// dispatch picks the rules an event can reach. Rules stating a necessary
// condition on a field (their prefilters: "equals, starts with or ends with
// one of these") are indexed by those keys; an event reaches them only when
// one of its values hits the index. Other rules see every event. With
// hundreds of rules that each test process.name or a path, most events
// reach a handful.
type dispatch struct {
	always []int32 // rules without prefilters, in rule order
	fields []indexedField
	stamp  []uint64 // per rule: the event generation it was last picked in
	gen    uint64
	picked []int32
	lower  []byte
}

type indexedField struct {
	f    ecs.Field
	cs   keyIndex // case-sensitive keys
	fold keyIndex // keys lower-cased
}

// keyIndex maps exact values, prefixes and suffixes to rules. Prefixes
// and suffixes are looked up by each distinct key length.
type keyIndex struct {
	exact, prefix, suffix  map[string][]int32
	prefixLens, suffixLens []int
}

func (k *keyIndex) add(p *ecs.Prefilter, rule int32) {
	lower := func(s string) string {
		if p.Fold {
			return strings.ToLower(s)
		}
		return s
	}
	for _, v := range p.Values {
		k.exact = addKey(k.exact, lower(v), rule)
	}
	for _, v := range p.Prefixes {
		k.prefix = addKey(k.prefix, lower(v), rule)
		k.prefixLens = addLen(k.prefixLens, len(lower(v)))
	}
	for _, v := range p.Suffixes {
		k.suffix = addKey(k.suffix, lower(v), rule)
		k.suffixLens = addLen(k.suffixLens, len(lower(v)))
	}
}

func addKey(m map[string][]int32, key string, rule int32) map[string][]int32 {
	if m == nil {
		m = map[string][]int32{}
	}
	if list := m[key]; len(list) == 0 || list[len(list)-1] != rule {
		m[key] = append(list, rule)
	}
	return m
}

func addLen(lens []int, n int) []int {
	i := sort.SearchInts(lens, n)
	if i < len(lens) && lens[i] == n {
		return lens
	}
	return append(lens[:i], append([]int{n}, lens[i:]...)...)
}

func (k *keyIndex) empty() bool {
	return len(k.exact) == 0 && len(k.prefix) == 0 && len(k.suffix) == 0
}

// newDispatch indexes rules for events of shape (nil: any event). For a
// known shape it leaves out the rules the shape rules out, and settles the
// prefilters on fields the shape fixes: one that always holds makes its
// rule see every event of the shape, one that never holds is dropped.
func newDispatch(rules []*ruleState, shape *ecs.Shape) *dispatch {
	d := &dispatch{stamp: make([]uint64, len(rules))}
	byField := map[string]int{}
	for i, rs := range rules {
		pfs, never := rs.rule.prefiltersFor(shape)
		if never {
			continue
		}
		if len(pfs) == 0 {
			d.always = append(d.always, int32(i))
			continue
		}
		pfs, always := settlePrefilters(pfs, shape)
		if always {
			d.always = append(d.always, int32(i))
			continue
		}
		if len(pfs) == 0 {
			// Every necessary condition fails on this shape.
			continue
		}
		for pi := range pfs {
			p := &pfs[pi]
			at, ok := byField[p.Field]
			if !ok {
				f, ok := ecs.FieldOf(p.Field)
				if !ok {
					// The registry is full: run the rule on every event.
					d.always = append(d.always, int32(i))
					break
				}
				at = len(d.fields)
				byField[p.Field] = at
				d.fields = append(d.fields, indexedField{f: f})
			}
			if p.Fold {
				d.fields[at].fold.add(p, int32(i))
			} else {
				d.fields[at].cs.add(p, int32(i))
			}
		}
	}
	return d
}

// settlePrefilters keeps the prefilters on fields the shape does not know;
// always reports that one on a known field holds for every event of it.
func settlePrefilters(pfs []ecs.Prefilter, shape *ecs.Shape) (kept []ecs.Prefilter, always bool) {
	if shape == nil {
		return pfs, false
	}
	for _, p := range pfs {
		f, ok := ecs.Lookup(p.Field)
		if !ok {
			kept = append(kept, p)
			continue
		}
		v, known := shape.Knows(f)
		if !known {
			kept = append(kept, p)
			continue
		}
		if p.Holds(v) {
			return nil, true
		}
	}
	return kept, false
}

// pick returns the indices of the rules ev can reach, in rule order. The
// slice is reused by the next call.
func (d *dispatch) pick(ev *ecs.Event) []int32 {
	if len(d.fields) == 0 {
		return d.always
	}
	d.gen++
	d.picked = append(d.picked[:0], d.always...)
	for _, i := range d.always {
		d.stamp[i] = d.gen
	}
	for fi := range d.fields {
		ix := &d.fields[fi]
		v := ev.Ref(ix.f)
		if v == nil {
			continue
		}
		for _, el := range v.Elems() {
			s, ok := el.Text()
			if !ok {
				continue
			}
			if !ix.cs.empty() {
				d.lookup(&ix.cs, s)
			}
			if !ix.fold.empty() {
				if isASCII(s) {
					d.lookupBytes(&ix.fold, d.lowerASCII(s))
				} else {
					d.lookup(&ix.fold, strings.ToLower(s))
				}
			}
		}
	}
	if len(d.picked) > len(d.always) {
		sortInt32(d.picked)
	}
	return d.picked
}

func (d *dispatch) lookup(k *keyIndex, s string) {
	d.add(k.exact[s])
	for _, n := range k.prefixLens {
		if n > len(s) {
			break
		}
		d.add(k.prefix[s[:n]])
	}
	for _, n := range k.suffixLens {
		if n > len(s) {
			break
		}
		d.add(k.suffix[s[len(s)-n:]])
	}
}

// lookupBytes is lookup on a reused buffer: indexing a map with a
// converted byte slice does not allocate.
func (d *dispatch) lookupBytes(k *keyIndex, b []byte) {
	d.add(k.exact[string(b)])
	for _, n := range k.prefixLens {
		if n > len(b) {
			break
		}
		d.add(k.prefix[string(b[:n])])
	}
	for _, n := range k.suffixLens {
		if n > len(b) {
			break
		}
		d.add(k.suffix[string(b[len(b)-n:])])
	}
}

func (d *dispatch) add(rules []int32) {
	for _, i := range rules {
		if d.stamp[i] != d.gen {
			d.stamp[i] = d.gen
			d.picked = append(d.picked, i)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases an ASCII s into a reused buffer.
func (d *dispatch) lowerASCII(s string) []byte {
	d.lower = append(d.lower[:0], s...)
	for i, c := range d.lower {
		if 'A' <= c && c <= 'Z' {
			d.lower[i] = c + 'a' - 'A'
		}
	}
	return d.lower
}

// sortInt32 is an insertion sort: the slices are short and nearly sorted.
func sortInt32(a []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// router picks the dispatch of each event's shape. A shape's dispatch is
// built when its first event arrives; events of no known shape use the
// dispatch built for any event.
type router struct {
	rules   []*ruleState
	any     *dispatch
	byShape []*dispatch // by ecs.ShapeID; nil until built
	shapes  bool        // false: one dispatch for every event
}

func newRouter(rules []*ruleState, index bool) *router {
	r := &router{rules: rules, shapes: index}
	if !index {
		r.any = newDispatch(nil, nil)
		r.any.stamp = make([]uint64, len(rules))
		for i := range rules {
			r.any.always = append(r.any.always, int32(i))
		}
		return r
	}
	r.any = newDispatch(rules, nil)
	return r
}

func (r *router) pick(ev *ecs.Event) []int32 {
	id := ev.Shape
	if id == 0 || !r.shapes {
		return r.any.pick(ev)
	}
	if int(id) < len(r.byShape) && r.byShape[id] != nil {
		return r.byShape[id].pick(ev)
	}
	shape := ecs.ShapeOf(id)
	if shape == nil {
		return r.any.pick(ev)
	}
	for int(id) >= len(r.byShape) {
		r.byShape = append(r.byShape, nil)
	}
	d := newDispatch(r.rules, shape)
	r.byShape[id] = d
	return d.pick(ev)
}
