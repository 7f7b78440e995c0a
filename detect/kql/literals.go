package kql

// Literal is a value a query compares a field with, for checking it
// against the field's type.
type Literal struct {
	Field string
	Value string
	// Range is set for a range bound (field < value ...).
	Range bool
}

// Literals lists the exact values (not patterns or existence tests) and
// range bounds the query compares named fields with.
func (q *Query) Literals() []Literal {
	var out []Literal
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case *andNode:
			for _, k := range n.kids {
				walk(k)
			}
		case *orNode:
			for _, k := range n.kids {
				walk(k)
			}
		case *notNode:
			walk(n.kid)
		case *termNode:
			for _, t := range n.terms {
				if t.kind == termLiteral {
					out = append(out, Literal{Field: n.f.name, Value: t.text})
				}
			}
		case *rangeNode:
			out = append(out, Literal{Field: n.f.name, Value: n.bound, Range: true})
		}
	}
	walk(q.root)
	return out
}
