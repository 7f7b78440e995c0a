package eql

import (
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// conjunctsOf finds necessary conditions of e: disjunctions of "field
// equals, starts with, ends with or contains one of these strings" tests,
// each of which has a test holding for every event e matches. It reports
// false when e states none.
//
// With a shape, it finds them for the events of that shape: a part of e the
// shape settles is left out (when always true it tells nothing; when always
// false it needs nothing, which an empty disjunction says).
func conjunctsOf(e expr, s *ecs.Shape) ([][]ecs.Prefilter, bool) {
	if s != nil {
		switch condVerdict(e, s) {
		case ecs.True:
			return nil, false
		case ecs.False:
			return [][]ecs.Prefilter{{}}, true
		}
	}
	switch x := e.(type) {
	case *andExpr:
		var all [][]ecs.Prefilter
		for _, op := range flatten(x, true) {
			if c, ok := conjunctsOf(op, s); ok {
				all = append(all, c...)
			}
		}
		return all, len(all) > 0
	case *orExpr:
		var all []ecs.Prefilter
		for _, op := range flatten(x, false) {
			p, ok := prefilterOf(op, s)
			if !ok {
				return nil, false
			}
			all = append(all, p...)
		}
		return [][]ecs.Prefilter{ecs.MergePrefilters(all)}, true
	}
	p, ok := leafPrefilter(e)
	if !ok {
		return nil, false
	}
	return [][]ecs.Prefilter{p}, true
}

// prefilterOf is the best of e's necessary conditions for an index.
func prefilterOf(e expr, s *ecs.Shape) ([]ecs.Prefilter, bool) {
	cs, ok := conjunctsOf(e, s)
	if !ok {
		return nil, false
	}
	return ecs.BestDisjunctions(cs, 1)[0], true
}

// leafPrefilter finds the prefilter a comparison states.
func leafPrefilter(e expr) ([]ecs.Prefilter, bool) {
	switch x := e.(type) {
	case *cmpExpr:
		if x.op != "==" {
			return nil, false
		}
		f, lit := fieldAndText(x.l, x.r)
		if f == nil {
			f, lit = fieldAndText(x.r, x.l)
		}
		if f == nil {
			return nil, false
		}
		return checked(ecs.Prefilter{Field: f.name, Values: []string{lit}})
	case *inExpr:
		f, ok := x.x.(*fieldExpr)
		if !ok || x.neg {
			return nil, false
		}
		p := ecs.Prefilter{Field: f.name, Fold: x.fold}
		for _, item := range x.list {
			lit, ok := item.(*litExpr)
			if !ok || lit.v.Kind != ecs.String {
				return nil, false
			}
			p.Values = append(p.Values, lit.v.Str)
		}
		return checked(p)
	case *matchExpr:
		f, ok := x.x.(*fieldExpr)
		if !ok || (x.op != ":" && x.op != "like" && x.op != "like~") {
			return nil, false
		}
		p := ecs.Prefilter{Field: f.name, Fold: x.op != "like"}
		for _, pat := range x.patterns {
			key, kind, ok := ecs.PatternKey(pat, func(i int) bool { return pat[i] == '*' || pat[i] == '?' })
			if !ok {
				return nil, false
			}
			p.Add(key, kind)
		}
		return checked(p)
	}
	return nil, false
}

// checked keeps a prefilter only when its field can key an index and its
// exact values compare as plain text.
func checked(p ecs.Prefilter) ([]ecs.Prefilter, bool) {
	if !ecs.Indexable(p.Field) || len(p.Values)+len(p.Prefixes)+len(p.Suffixes)+len(p.Contains) == 0 {
		return nil, false
	}
	for _, v := range p.Values {
		if !ecs.PlainText(v) {
			return nil, false
		}
	}
	return []ecs.Prefilter{p}, true
}

func fieldAndText(a, b expr) (*fieldExpr, string) {
	f, ok := a.(*fieldExpr)
	lit, ok2 := b.(*litExpr)
	if !ok || !ok2 || lit.v.Kind != ecs.String {
		return nil, ""
	}
	return f, lit.v.Str
}

func flatten(e expr, and bool) []expr {
	var out []expr
	var walk func(expr)
	walk = func(x expr) {
		if a, ok := x.(*andExpr); ok && and {
			walk(a.l)
			walk(a.r)
			return
		}
		if o, ok := x.(*orExpr); ok && !and {
			walk(o.l)
			walk(o.r)
			return
		}
		out = append(out, x)
	}
	walk(e)
	return out
}

// prefilters returns the conditions of which at least one holds for every
// event the filters can match (one per filter), or nil when some filter
// has none.
func prefilters(filters ...*eventFilter) []ecs.Prefilter {
	var out []ecs.Prefilter
	for _, f := range filters {
		if f == nil {
			continue
		}
		p, ok := prefilterOf(f.cond, nil)
		if !ok {
			return nil
		}
		out = append(out, p...)
	}
	return ecs.MergePrefilters(out)
}

// Conjuncts returns the query's necessary conditions for events of shape s
// (nil: any event), the best index keys first: every event the query can
// match meets each of them. A single-event query states one per clause of
// its conjunction; a sequence one, the union of its steps'. never reports
// that no event of the shape can match; nil clauses, that the query
// states no condition an index could use.
func (q *Query) Conjuncts(s *ecs.Shape) (clauses [][]ecs.Prefilter, never bool) {
	if !q.CanMatch(s) {
		return nil, true
	}
	if q.Sequence != nil {
		p := q.PrefiltersFor(s)
		if p == nil {
			return nil, false
		}
		return [][]ecs.Prefilter{p}, len(p) == 0
	}
	cs, ok := conjunctsOf(q.filters[0].cond, s)
	if !ok {
		return nil, false
	}
	cs = ecs.BestDisjunctions(cs, ecs.MaxConjuncts)
	return cs, len(cs[0]) == 0
}

// Targets returns what an index should key the query by for events of
// shape s (nil: any event): one target for a single-event query, one per
// step (and until condition) for a sequence, so that an event reaches only
// the steps it can fill. An event meeting no target cannot affect the
// query; an empty result means no event of the shape can.
func (q *Query) Targets(s *ecs.Shape) []ecs.Target {
	if q.Sequence == nil || len(q.Sequence.Steps) >= untilShift {
		// One target; a sequence too long for a step mask is one too.
		return ecs.WholeTarget(q.Conjuncts(s))
	}
	steps := q.Sequence.Steps
	out := []ecs.Target{}
	add := func(f *eventFilter, bits uint64) {
		if s != nil && filterVerdict(f, q.catField, s) == ecs.False {
			return
		}
		cs, ok := conjunctsOf(f.cond, s)
		if !ok {
			out = append(out, ecs.Target{Steps: bits})
			return
		}
		cs = ecs.BestDisjunctions(cs, ecs.MaxConjuncts)
		if len(cs[0]) > 0 {
			out = append(out, ecs.Target{Steps: bits, Clauses: cs})
		}
	}
	for j := 0; j < len(steps); {
		// Steps repeated by `with runs=N` share a filter and a target.
		bits := uint64(0)
		k := j
		for ; k < len(steps) && steps[k].filter == steps[j].filter; k++ {
			bits |= 1 << k
		}
		add(steps[j].filter, bits)
		j = k
	}
	if u := q.Sequence.Until; u != nil {
		add(u.filter, untilBit)
	}
	return out
}

// PrefiltersFor is Prefilters for the events of shape s: only the steps
// that can match such an event contribute, and conditions the shape
// settles are left out. An empty, non-nil result means no event of the
// shape can match; nil means the query states no condition an index
// could use.
func (q *Query) PrefiltersFor(s *ecs.Shape) []ecs.Prefilter {
	if s == nil {
		return q.Prefilters
	}
	var out []ecs.Prefilter
	for _, f := range q.filters {
		if filterVerdict(f, q.catField, s) == ecs.False {
			continue
		}
		p, ok := prefilterOf(f.cond, s)
		if !ok {
			return nil
		}
		out = append(out, p...)
	}
	if out = ecs.MergePrefilters(out); out == nil {
		return []ecs.Prefilter{}
	}
	return out
}
