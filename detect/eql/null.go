package eql

import "github.com/osqdetect/osqdetect/detect/ecs"

// Null, missing fields and negation, as Elasticsearch's EQL runs them.
//
// A condition used as a value (`null == (exit_code > -1)`, an argument)
// is evaluated in a script, with three-valued logic: a comparison, match
// or function whose operand is missing is null, `not null` is null, `null
// and false` is false, `null or true` is true
// (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-function-ref.html:
// functions given null return null).
//
// The condition after `where` is run as a query instead (x-pack/plugin/eql
// planner/QueryTranslator.java): a comparison of a field with constants,
// in, :, like, regex, cidrMatch(field, ...), startsWith(field, "...") and
// case-sensitive stringContains(field, "...") become term, range, wildcard
// and prefix queries, and everything else becomes a script query, true
// only when its three-valued result is true. `not` and `!=` over a query
// become must_not (https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-bool-query.html),
// so `process.name != "bash"` holds on an event without process.name,
// while before translation `not` over an ordering comparison is replaced
// by the opposite comparison (`not (exit_code > 0)` is `exit_code <= 0`,
// which needs exit_code), and `not` over a script is the script's own
// three-valued negation. `x == null` and `x != null` test absence and
// presence and are never null.
//
// So a condition compiles to boolean (it holds); in a script, or for a
// script leaf, negBoolean is "it is false", which never holds on null.

// asScript returns a compiler for conditions evaluated in a script. The
// shape's verdicts follow query semantics, so it is not used there.
func (c *compiler) asScript() *compiler {
	return &compiler{fields: c.fields, catField: c.catField, script: true}
}

// notOf compiles `not x`.
func (c *compiler) notOf(x expr) (ecs.Predicate, error) {
	if c.script {
		return c.negBoolean(x)
	}
	switch x := x.(type) {
	case *notExpr:
		return c.boolean(x.x)
	case *andExpr, *orExpr:
		p, err := c.boolean(x)
		if err != nil {
			return nil, err
		}
		return not(p), nil
	case *cmpExpr:
		if flipped, ok := flipOrdering(x); ok {
			return c.boolean(flipped)
		}
	}
	if !pushable(x) {
		return c.negBoolean(x)
	}
	p, err := c.boolean(x)
	if err != nil {
		return nil, err
	}
	return not(p), nil
}

// flipOrdering returns the opposite of an ordering comparison (`a > b`
// for `not (a <= b)`), as Elasticsearch's optimizer rewrites a negated one.
func flipOrdering(e *cmpExpr) (*cmpExpr, bool) {
	if isNullLit(e.l) || isNullLit(e.r) {
		return nil, false
	}
	op, ok := map[string]string{"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[e.op]
	if !ok {
		return nil, false
	}
	return &cmpExpr{p: e.p, op: op, l: e.l, r: e.r}, true
}

// pushable reports whether Elasticsearch runs the condition as a query on
// a field (true or false, never null) rather than as a script.
func pushable(e expr) bool {
	isField := func(x expr) bool { _, ok := x.(*fieldExpr); return ok }
	isLit := func(x expr) bool { _, ok := x.(*litExpr); return ok }
	switch e := e.(type) {
	case *cmpExpr:
		if isNullLit(e.l) || isNullLit(e.r) {
			return true // exists queries, or a script that is never null
		}
		return (isField(e.l) && isLit(e.r)) || (isLit(e.l) && isField(e.r))
	case *inExpr:
		if !isField(e.x) {
			return false
		}
		for _, x := range e.list {
			if !isLit(x) {
				return false
			}
		}
		return true
	case *matchExpr:
		return isField(e.x)
	case *callExpr:
		if len(e.args) < 2 || !isField(e.args[0]) {
			return false
		}
		for _, x := range e.args[1:] {
			if !isLit(x) {
				return false
			}
		}
		switch e.name {
		case "cidrmatch", "startswith":
			return true
		case "stringcontains":
			return !e.fold
		}
		return false
	case *litExpr:
		return true
	}
	return false
}

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
