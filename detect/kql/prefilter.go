package kql

import "github.com/osqdetect/osqdetect/detect/ecs"

// conditions reads KQL queries for their necessary conditions.
var conditions = ecs.ConditionTree[node]{
	Verdict: verdict,
	Split: func(n node) ([]node, bool, bool) {
		switch n := n.(type) {
		case *andNode:
			return n.kids, true, true
		case *orNode:
			return n.kids, false, true
		}
		return nil, false, false
	},
	Leaf: leafPrefilter,
}

// conjunctsOf finds necessary conditions of n (see ecs.ConditionTree).
func conjunctsOf(n node, s *ecs.Shape) ([][]ecs.Prefilter, bool) { return conditions.Conjuncts(n, s) }

// prefilterOf is the best of n's necessary conditions for an index.
func prefilterOf(n node, s *ecs.Shape) ([]ecs.Prefilter, bool) { return conditions.Best(n, s) }

// Conjuncts returns the query's necessary conditions for events of shape s
// (nil: any event), the best index keys first: every event the query
// matches meets each of them. never reports that no event of the shape
// can match; nil clauses, that the query states no condition an index
// could use.
func (q *Query) Conjuncts(s *ecs.Shape) (clauses [][]ecs.Prefilter, never bool) {
	if !q.CanMatch(s) {
		return nil, true
	}
	cs, ok := conjunctsOf(q.root, s)
	if !ok {
		return nil, false
	}
	cs = ecs.BestDisjunctions(cs, ecs.MaxConjuncts)
	return cs, len(cs[0]) == 0
}

// Targets returns what an index should key the query by for events of
// shape s (nil: any event): one target standing for the whole query, or
// none when no event of the shape can match.
func (q *Query) Targets(s *ecs.Shape) []ecs.Target {
	return ecs.WholeTarget(q.Conjuncts(s))
}

// leafPrefilter finds the prefilter a field query states.
func leafPrefilter(n node) ([]ecs.Prefilter, bool) {
	switch n := n.(type) {
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
