package eql

import "github.com/osqdetect/osqdetect/detect/ecs"

// CanMatch reports whether some event of shape s could match the query or,
// for a sequence, any of its steps or its until condition. It is false only
// when every such condition is false for every event of the shape, judged
// from the fields the shape fixes or never carries.
func (q *Query) CanMatch(s *ecs.Shape) bool {
	if s == nil {
		return true
	}
	for _, f := range q.filters {
		if filterVerdict(f, q.catField, s) != ecs.False {
			return true
		}
	}
	return false
}

func filterVerdict(f *eventFilter, catField ecs.Field, s *ecs.Shape) ecs.Tri {
	cat := ecs.True
	if !f.anyCat {
		if v, known := s.Knows(catField); !known {
			cat = ecs.Maybe
		} else {
			cat = ecs.TriOf(hasString(v, f.category))
		}
	}
	if cat == ecs.False {
		return ecs.False
	}
	return cat.And(condVerdict(f.cond, s))
}

func hasString(v ecs.Value, s string) bool {
	for _, e := range v.Elems() {
		if e.Kind == ecs.String && e.Str == s {
			return true
		}
	}
	return false
}

// condVerdict is e's value over every event of s: True or False when the
// fields it reads settle it, Maybe otherwise. A condition reading only
// fields the shape knows is compiled on its own and run on the shape's
// probe event, so its verdict follows exactly the semantics of matching.
func condVerdict(e expr, s *ecs.Shape) ecs.Tri {
	switch x := e.(type) {
	case *andExpr:
		l := condVerdict(x.l, s)
		if l == ecs.False {
			return l
		}
		return l.And(condVerdict(x.r, s))
	case *orExpr:
		l := condVerdict(x.l, s)
		if l == ecs.True {
			return l
		}
		return l.Or(condVerdict(x.r, s))
	case *notExpr:
		switch inner := x.x.(type) {
		case *notExpr:
			return condVerdict(inner.x, s)
		case *andExpr, *orExpr:
			return condVerdict(inner, s).Not()
		}
		// The negation of one condition: a flipped comparison, a
		// must_not or a script's negation; judged whole.
	}
	return leafVerdict(e, s, false)
}

// negVerdict is the verdict on "e is false" over every event of s (under
// three-valued logic a condition may be neither true nor false). The
// compiler asks it of script conditions only: and, or and not are
// handled for completeness.
func negVerdict(e expr, s *ecs.Shape) ecs.Tri {
	switch x := e.(type) {
	case *andExpr:
		l := negVerdict(x.l, s)
		if l == ecs.True {
			return l
		}
		return l.Or(negVerdict(x.r, s))
	case *orExpr:
		l := negVerdict(x.l, s)
		if l == ecs.False {
			return l
		}
		return l.And(negVerdict(x.r, s))
	case *notExpr:
		return condVerdict(x.x, s)
	}
	return leafVerdict(e, s, true)
}

// leafVerdict runs e (or "e is false", when neg) on the shape's probe
// event when every field it reads is one the shape knows.
func leafVerdict(e expr, s *ecs.Shape, neg bool) ecs.Tri {
	known := func(name string) bool {
		f, ok := ecs.Lookup(name)
		if !ok {
			return false
		}
		_, k := s.Knows(f)
		return k
	}
	if !allFields(e, known) {
		return ecs.Maybe
	}
	c := &compiler{fields: map[string]struct{}{}}
	compile := c.boolean
	if neg {
		compile = c.negBoolean
	}
	pred, err := compile(e)
	if err != nil {
		return ecs.Maybe
	}
	return ecs.TriOf(pred(s.Probe()))
}
