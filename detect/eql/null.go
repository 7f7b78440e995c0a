package eql

import "github.com/osqdetect/osqdetect/detect/ecs"

// Three-valued logic. A condition over an event is true, false or null:
// a comparison, a pattern match or a function whose operand is missing
// (or null) is null, `not null` is null, `null and false` is false and
// `null or true` is true; only true selects an event. `x == null` and
// `x != null` are never null: they test absence and presence. This is the
// logic Elasticsearch's EQL documents and its QA suite checks (a missing
// field's `fake_field !: "*"` and `not (fake_field : "*")` match nothing,
// `null : (exit_code > -1)` holds where exit_code is missing); see
// https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-syntax.html.
//
// A condition compiles to two predicates: boolean (it is true) and
// negBoolean (it is false). Neither holds on null.

// negBoolean compiles "e is false".
func (c *compiler) negBoolean(e expr) (ecs.Predicate, error) {
	switch c.settledNeg(e) {
	case ecs.True:
		return alwaysTrue, nil
	case ecs.False:
		return alwaysFalse, nil
	}
	return c.negOpen(e)
}

// settledNeg is the verdict on "e is false" over every event of the
// compiler's shape.
func (c *compiler) settledNeg(e expr) ecs.Tri {
	if c.shape == nil {
		return ecs.Maybe
	}
	return negVerdict(e, c.shape)
}

func (c *compiler) negOpen(e expr) (ecs.Predicate, error) {
	switch e := e.(type) {
	case *andExpr, *orExpr:
		// De Morgan: (a and b) is false when a or b is; (a or b) when
		// both are.
		_, isAnd := e.(*andExpr)
		var preds []ecs.Predicate
		for _, x := range flatten(e, isAnd) {
			switch c.settledNeg(x) {
			case ecs.True:
				if isAnd {
					return alwaysTrue, nil
				}
				continue
			case ecs.False:
				if !isAnd {
					return alwaysFalse, nil
				}
				continue
			}
			p, err := c.negOpen(x)
			if err != nil {
				return nil, err
			}
			preds = append(preds, p)
		}
		if isAnd {
			return anyPred(preds), nil
		}
		return allPred(preds), nil
	case *notExpr:
		return c.boolean(e.x)
	case *litExpr:
		if e.v.Kind == ecs.Bool && !e.v.Bool() {
			return alwaysTrue, nil
		}
		if e.v.Kind == ecs.Bool || e.v.Kind == ecs.Null {
			return alwaysFalse, nil
		}
	case *cmpExpr:
		if isNullLit(e.l) || isNullLit(e.r) {
			// x == null and x != null are never null: false is the
			// opposite of true. Other comparisons with null are null.
			if e.op != "==" && e.op != "!=" {
				return alwaysFalse, nil
			}
			p, err := c.comparison(e)
			if err != nil {
				return nil, err
			}
			return not(p), nil
		}
	}
	p, err := c.open(e)
	if err != nil {
		return nil, err
	}
	return c.presentAnd(e, not(p))
}

// presentAnd returns "every operand of the comparison e has a value, and
// p": p is then false or true, never null.
func (c *compiler) presentAnd(e expr, p ecs.Predicate) (ecs.Predicate, error) {
	var operands []expr
	switch e := e.(type) {
	case *cmpExpr:
		operands = []expr{e.l, e.r}
	case *inExpr:
		operands = []expr{e.x}
	case *matchExpr:
		operands = []expr{e.x}
	default:
		operands = []expr{e}
	}
	var has []ecs.Predicate
	for _, x := range operands {
		if _, lit := x.(*litExpr); lit {
			continue
		}
		h, err := c.exists(x)
		if err != nil {
			return nil, err
		}
		has = append(has, h)
	}
	return allPred(append(has, p)), nil
}

func allPred(preds []ecs.Predicate) ecs.Predicate {
	switch len(preds) {
	case 0:
		return alwaysTrue
	case 1:
		return preds[0]
	case 2:
		a, b := preds[0], preds[1]
		return func(ev *ecs.Event) bool { return a(ev) && b(ev) }
	}
	return func(ev *ecs.Event) bool {
		for _, p := range preds {
			if !p(ev) {
				return false
			}
		}
		return true
	}
}

func anyPred(preds []ecs.Predicate) ecs.Predicate {
	switch len(preds) {
	case 0:
		return alwaysFalse
	case 1:
		return preds[0]
	case 2:
		a, b := preds[0], preds[1]
		return func(ev *ecs.Event) bool { return a(ev) || b(ev) }
	}
	return func(ev *ecs.Event) bool {
		for _, p := range preds {
			if p(ev) {
				return true
			}
		}
		return false
	}
}

// triValue compiles a condition used as a value: true, false, or null
// (Missing).
func (c *compiler) triValue(e expr) (valueFn, error) {
	pos, err := c.boolean(e)
	if err != nil {
		return nil, err
	}
	neg, err := c.negBoolean(e)
	if err != nil {
		return nil, err
	}
	return func(ev *ecs.Event) ecs.Value {
		switch {
		case pos(ev):
			return ecs.BoolVal(true)
		case neg(ev):
			return ecs.BoolVal(false)
		}
		return ecs.Value{}
	}, nil
}
