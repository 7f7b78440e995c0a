package eql

import (
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// conditions reads EQL conditions for their necessary conditions.
var conditions = ecs.ConditionTree[expr]{
	Verdict: condVerdict,
	Split: func(e expr) ([]expr, bool, bool) {
		switch e.(type) {
		case *andExpr:
			return flatten(e, true), true, true
		case *orExpr:
			return flatten(e, false), false, true
		}
		return nil, false, false
	},
	Leaf: leafPrefilter,
}

// conjunctsOf finds necessary conditions of e (see ecs.ConditionTree).
func conjunctsOf(e expr, s *ecs.Shape) ([][]ecs.Prefilter, bool) { return conditions.Conjuncts(e, s) }

// prefilterOf is the best of e's necessary conditions for an index.
func prefilterOf(e expr, s *ecs.Shape) ([]ecs.Prefilter, bool) { return conditions.Best(e, s) }

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
		if ok && (x.op == "regex" || x.op == "regex~") {
			return regexPrefilter(f.name, x.regexes)
		}
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

// regexPrefilter is the condition some pattern of a regex test states
// for an index: each pattern's precheck must give a key (see
// regexPrecheck.prefilter), else the test states none.
func regexPrefilter(field string, res []*checkedRegex) ([]ecs.Prefilter, bool) {
	if len(res) == 0 || !ecs.Indexable(field) {
		return nil, false
	}
	var ps []ecs.Prefilter
	for _, re := range res {
		p, ok := re.pre.prefilter(field)
		if !ok {
			return nil, false
		}
		ps = append(ps, p)
	}
	return ecs.MergePrefilters(ps), true
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
