package kql

import "github.com/osqdetect/osqdetect/detect/ecs"

// prefilterOf finds a necessary condition of n of the form "field equals
// one of these strings", or reports false.
func prefilterOf(n node) (ecs.Prefilter, bool) {
	switch n := n.(type) {
	case *andNode:
		var best ecs.Prefilter
		found := false
		for _, k := range n.kids {
			if p, ok := prefilterOf(k); ok && (!found || ecs.BetterPrefilter(p, best)) {
				best, found = p, true
			}
		}
		return best, found
	case *orNode:
		var union ecs.Prefilter
		for i, k := range n.kids {
			p, ok := prefilterOf(k)
			if !ok || (i > 0 && p.Field != union.Field) {
				return ecs.Prefilter{}, false
			}
			union.Field = p.Field
			union.Values = append(union.Values, p.Values...)
		}
		return union, len(union.Values) > 0
	case *termNode:
		if n.f.ip || !ecs.Selective(n.f.name) {
			return ecs.Prefilter{}, false
		}
		p := ecs.Prefilter{Field: n.f.name}
		for _, t := range n.terms {
			if t.kind != termLiteral || !ecs.PlainText(t.text) {
				return ecs.Prefilter{}, false
			}
			p.Values = append(p.Values, t.text)
		}
		return p, len(p.Values) > 0
	}
	return ecs.Prefilter{}, false
}
