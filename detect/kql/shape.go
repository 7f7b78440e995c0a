package kql

import (
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

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

// MatchFor returns Match specialised for events of shape s: the parts of
// the query s settles (event.category, event.type, host.os.type, fields s
// never carries) are decided once, here, instead of on every event. It
// returns Match itself for a nil shape.
func (q *Query) MatchFor(s *ecs.Shape) ecs.Predicate {
	if s == nil {
		return q.Match
	}
	return specialize(q.root, s).match
}

// specialize returns n with what s settles folded away.
func specialize(n node, s *ecs.Shape) node {
	switch verdict(n, s) {
	case ecs.True:
		return constNode(true)
	case ecs.False:
		return constNode(false)
	}
	return specializeOpen(n, s)
}

// specializeOpen specialises n, which s leaves open.
func specializeOpen(n node, s *ecs.Shape) node {
	switch n := n.(type) {
	case *andNode:
		return &andNode{kids: openKids(n.kids, s)}
	case *orNode:
		return &orNode{kids: openKids(n.kids, s)}
	case *notNode:
		return &notNode{kid: specializeOpen(n.kid, s)}
	}
	return n
}

// openKids specialises the children of an open junction that s leaves
// open; the others hold the junction's neutral value and drop out.
func openKids(kids []node, s *ecs.Shape) []node {
	var out []node
	for _, k := range kids {
		if verdict(k, s) == ecs.Maybe {
			out = append(out, specializeOpen(k, s))
		}
	}
	return out
}

// constNode is a condition a shape settled.
type constNode bool

func (n constNode) match(*ecs.Event) bool { return bool(n) }
func (n constNode) cost() int             { return 0 }
func (n constNode) write(b *strings.Builder, _ int) {
	if n {
		b.WriteString("<true>")
	} else {
		b.WriteString("<false>")
	}
}
