package kql

import "github.com/osqdetect/osqdetect/detect/ecs"

// CanMatch reports whether some event of shape s could satisfy the query:
// it is false only when the query is false for every event of the shape,
// judged from the fields the shape fixes or never carries.
func (q *Query) CanMatch(s *ecs.Shape) bool {
	return s == nil || verdict(q.root, s) != ecs.False
}

// verdict is the query's value over every event of s: True or False when
// the fields it reads settle it, Maybe otherwise.
func verdict(n node, s *ecs.Shape) ecs.Tri {
	switch n := n.(type) {
	case *andNode:
		t := ecs.True
		for _, k := range n.kids {
			if t = t.And(verdict(k, s)); t == ecs.False {
				break
			}
		}
		return t
	case *orNode:
		t := ecs.False
		for _, k := range n.kids {
			if t = t.Or(verdict(k, s)); t == ecs.True {
				break
			}
		}
		return t
	case *notNode:
		return verdict(n.kid, s).Not()
	case *termNode:
		return leafVerdict(n, n.f.id, s)
	case *rangeNode:
		return leafVerdict(n, n.f.id, s)
	}
	return ecs.Maybe
}

// leafVerdict settles a condition on one field when the shape knows it.
func leafVerdict(n node, f ecs.Field, s *ecs.Shape) ecs.Tri {
	if _, known := s.Knows(f); !known {
		return ecs.Maybe
	}
	return ecs.TriOf(n.match(s.Probe()))
}
