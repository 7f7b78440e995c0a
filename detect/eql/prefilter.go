package eql

import (
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// prefilterOf finds a necessary condition of e: a disjunction of "field
// equals one of these strings" tests, at least one of which holds for every
// event e matches. It reports false when e states none.
func prefilterOf(e expr) ([]ecs.Prefilter, bool) {
	switch x := e.(type) {
	case *andExpr:
		var best []ecs.Prefilter
		for _, op := range flatten(x, true) {
			if p, ok := prefilterOf(op); ok && (best == nil || ecs.BetterDisjunction(p, best)) {
				best = p
			}
		}
		return best, best != nil
	case *orExpr:
		var all []ecs.Prefilter
		for _, op := range flatten(x, false) {
			p, ok := prefilterOf(op)
			if !ok {
				return nil, false
			}
			all = append(all, p...)
		}
		return ecs.MergePrefilters(all), true
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
	if !ecs.Indexable(p.Field) || len(p.Values)+len(p.Prefixes)+len(p.Suffixes) == 0 {
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
		p, ok := prefilterOf(f.cond)
		if !ok {
			return nil
		}
		out = append(out, p...)
	}
	return ecs.MergePrefilters(out)
}
