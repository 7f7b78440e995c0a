package kql

import "github.com/osqdetect/osqdetect/detect/ecs"

// prefilterOf finds a necessary condition of n: a disjunction of "field
// equals one of these strings" tests, at least one of which holds for every
// event n matches. It reports false when n states none.
func prefilterOf(n node) ([]ecs.Prefilter, bool) {
	switch n := n.(type) {
	case *andNode:
		var best []ecs.Prefilter
		for _, k := range n.kids {
			if p, ok := prefilterOf(k); ok && (best == nil || ecs.BetterDisjunction(p, best)) {
				best = p
			}
		}
		return best, best != nil
	case *orNode:
		var all []ecs.Prefilter
		for _, k := range n.kids {
			p, ok := prefilterOf(k)
			if !ok {
				return nil, false
			}
			all = append(all, p...)
		}
		return ecs.MergePrefilters(all), true
	case *termNode:
		if n.f.ip || !ecs.Selective(n.f.name) {
			return nil, false
		}
		p := ecs.Prefilter{Field: n.f.name}
		for _, t := range n.terms {
			if t.kind != termLiteral || !ecs.PlainText(t.text) {
				return nil, false
			}
			p.Values = append(p.Values, t.text)
		}
		return []ecs.Prefilter{p}, len(p.Values) > 0
	}
	return nil, false
}
