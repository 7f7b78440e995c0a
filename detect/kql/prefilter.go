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
		if n.f.ip || !ecs.Indexable(n.f.name) || len(n.terms) == 0 {
			return nil, false
		}
		p := ecs.Prefilter{Field: n.f.name}
		for _, t := range n.terms {
			switch t.kind {
			case termLiteral:
				if !ecs.PlainText(t.text) {
					return nil, false
				}
				p.Values = append(p.Values, t.text)
			case termPattern:
				key, kind, ok := patternKey(t.text)
				if !ok {
					return nil, false
				}
				p.Add(key, kind)
			default:
				return nil, false
			}
		}
		return []ecs.Prefilter{p}, true
	}
	return nil, false
}

// patternKey unescapes a KQL wildcard value (a backslash makes the next
// character literal, as glob's Escape option does) and returns its index key.
func patternKey(src string) (string, ecs.KeyKind, bool) {
	lit := make([]byte, 0, len(src))
	var wild []bool
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			i++
			lit = append(lit, src[i])
			wild = append(wild, false)
			continue
		}
		lit = append(lit, c)
		wild = append(wild, c == '*')
	}
	return ecs.PatternKey(string(lit), func(i int) bool { return wild[i] })
}
