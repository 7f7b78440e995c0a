package detect

import (
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// dispatch picks the rules an event can reach. Rules stating a necessary
// condition "field equals one of these values" (their prefilters) are
// indexed by those values; an event reaches them only when one of its
// values hits the index. Other rules see every event. With hundreds of
// rules that each test process.name, most events reach a handful.
type dispatch struct {
	always []int32 // rules without prefilters, in rule order
	fields []indexedField
	stamp  []uint64 // per rule: the event generation it was last picked in
	gen    uint64
	picked []int32
	lower  []byte
}

type indexedField struct {
	f     ecs.Field
	exact map[string][]int32
	fold  map[string][]int32 // keys lower-cased
}

func newDispatch(rules []*ruleState) *dispatch {
	d := &dispatch{stamp: make([]uint64, len(rules))}
	byField := map[string]int{}
	for i, rs := range rules {
		pfs := rs.rule.Prefilters
		if len(pfs) == 0 {
			d.always = append(d.always, int32(i))
			continue
		}
		for _, p := range pfs {
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
				d.fields = append(d.fields, indexedField{f: f, exact: map[string][]int32{}, fold: map[string][]int32{}})
			}
			ix := &d.fields[at]
			for _, v := range p.Values {
				if p.Fold {
					k := strings.ToLower(v)
					ix.fold[k] = appendOnce(ix.fold[k], int32(i))
				} else {
					ix.exact[v] = appendOnce(ix.exact[v], int32(i))
				}
			}
		}
	}
	return d
}

func appendOnce(list []int32, i int32) []int32 {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
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
			d.add(ix.exact[s])
			if len(ix.fold) > 0 {
				if isASCII(s) {
					d.add(ix.fold[string(d.lowerASCII(s))]) // no allocation: map index by converted bytes
				} else {
					d.add(ix.fold[strings.ToLower(s)])
				}
			}
		}
	}
	if len(d.picked) > len(d.always) {
		sortInt32(d.picked)
	}
	return d.picked
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
