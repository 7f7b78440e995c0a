package kql

import (
	"strconv"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// maxDepth bounds nesting of parentheses and 'not' so hostile input cannot
// exhaust the stack.
const maxDepth = 200

// parser is a recursive-descent parser over the token list. It builds the
// match tree directly; simplify() then optimizes it.
//
//	query     = or EOF
//	or        = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | '(' or ')' | field ':' values | field RANGE literal
//	values    = '(' vor ')' | NOT values | value
//	vor       = vand { OR vand }
//	vand      = vnot { AND vnot }
//	vnot      = NOT vnot | '(' vor ')' | value
type parser struct {
	src    string
	toks   []token
	i      int
	depth  int
	fields map[string]bool
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(k string) bool { return p.peek().keyword() == k }

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return syntaxErr(p.src, t.pos, "query nests deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseQuery() (node, error) {
	if p.peek().kind == tEOF {
		return nil, syntaxErr(p.src, p.peek().pos, "empty query")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, syntaxErr(p.src, t.pos, "unbalanced ')': no '(' to close")
		}
		return nil, syntaxErr(p.src, t.pos, "expected 'and', 'or' or end of query, found %s", t.describe())
	}
	return n, nil
}

func (p *parser) parseOr() (node, error) {
	return p.joined("or", p.parseAnd, func(kids []node) node { return &orNode{kids: kids} })
}

func (p *parser) parseAnd() (node, error) {
	return p.joined("and", p.parseNot, func(kids []node) node { return &andNode{kids: kids} })
}

// joined parses one or more operands separated by the keyword and joins
// two or more with build.
func (p *parser) joined(keyword string, operand func() (node, error), build func([]node) node) (node, error) {
	n, err := operand()
	if err != nil {
		return nil, err
	}
	kids := []node{n}
	for p.isKeyword(keyword) {
		p.next()
		n, err := operand()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return build(kids), nil
}

func (p *parser) parseNot() (node, error) {
	t := p.peek()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	switch {
	case t.keyword() == "not":
		p.next()
		kid, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &notNode{kid: kid}, nil
	case t.kind == tLParen:
		p.next()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expectClose(t); err != nil {
			return nil, err
		}
		return n, nil
	case t.kind == tWord && t.keyword() == "" || t.kind == tQuoted:
		return p.parseFieldExpr()
	case t.kind == tEOF:
		return nil, syntaxErr(p.src, t.pos, "unexpected end of query: expected a field name, '(' or 'not'")
	}
	return nil, syntaxErr(p.src, t.pos, "expected a field name, '(' or 'not', found %s", t.describe())
}

func (p *parser) expectClose(open token) error {
	t := p.peek()
	if t.kind == tRParen {
		p.next()
		return nil
	}
	line, col := position(p.src, open.pos)
	if t.kind == tEOF {
		return syntaxErr(p.src, t.pos, "expected ')' to close '(' at line %d, column %d, found end of query", line, col)
	}
	return syntaxErr(p.src, t.pos, "expected ')' to close '(' at line %d, column %d, found %s", line, col, t.describe())
}

// parseFieldExpr parses "field: values" or "field <op> literal". A value
// with no field before it is free text.
func (p *parser) parseFieldExpr() (node, error) {
	name := p.next()
	op := p.peek()
	if op.kind != tColon && op.kind != tRange {
		return nil, unsupported(p.src, name.pos, "free-text query %s (a value without a field name)", quoteForMsg(name))
	}
	if name.kind == tWord && name.wild {
		return p.parseWildField(name, op)
	}
	if name.text == "" {
		return nil, syntaxErr(p.src, name.pos, "empty field name")
	}
	fd, err := p.field(name)
	if err != nil {
		return nil, err
	}
	p.next()
	if op.kind == tRange {
		return p.parseRange(fd, op)
	}
	switch v := p.peek(); {
	case v.kind == tLBrace:
		return nil, unsupported(p.src, v.pos, "nested field query %s:{…}", name.text)
	case v.kind == tEOF:
		return nil, syntaxErr(p.src, v.pos, "expected a value after '%s:', found end of query", name.text)
	}
	return p.parseValueNot(fd)
}

// parseWildField parses the value query after a field name holding
// wildcards; it runs on every field of an event whose name matches.
func (p *parser) parseWildField(name, op token) (node, error) {
	fd := fieldRef{name: name.glob}
	p.next()
	var proto node
	var err error
	if op.kind == tRange {
		proto, err = p.parseRange(fd, op)
	} else {
		switch v := p.peek(); {
		case v.kind == tLBrace:
			return nil, unsupported(p.src, v.pos, "nested field query %s:{…}", name.glob)
		case v.kind == tEOF:
			return nil, syntaxErr(p.src, v.pos, "expected a value after '%s:', found end of query", name.glob)
		}
		proto, err = p.parseValueNot(fd)
	}
	if err != nil {
		return nil, err
	}
	return newWildField(name.glob, simplify(proto)), nil
}

func quoteForMsg(t token) string {
	if t.kind == tWord {
		return strconv.Quote(t.glob)
	}
	return strconv.Quote(t.text)
}

type fieldRef struct {
	id   ecs.Field
	name string
	ip   bool
}

func (p *parser) field(t token) (fieldRef, error) {
	id, ok := ecs.FieldOf(t.text)
	if !ok {
		return fieldRef{}, syntaxErr(p.src, t.pos, "field %q: too many distinct field names (limit %d)", t.text, ecs.MaxFields)
	}
	p.fields[t.text] = true
	return fieldRef{id: id, name: t.text, ip: isIPField(t.text)}, nil
}

// isIPField reports the ECS fields of type ip, whose values match CIDR
// ranges and compare as addresses.
func isIPField(name string) bool {
	return name == "ip" || strings.HasSuffix(name, ".ip")
}

func (p *parser) parseRange(fd fieldRef, op token) (node, error) {
	v := p.next()
	switch {
	case v.kind == tQuoted:
	case v.kind == tWord && v.keyword() == "":
		if v.wild {
			return nil, syntaxErr(p.src, v.pos, "a range bound cannot hold a wildcard: %q", v.glob)
		}
	default:
		return nil, syntaxErr(p.src, v.pos, "expected a value after '%s', found %s", op.text, v.describe())
	}
	return newRange(fd, op.text, v.text), nil
}

func (p *parser) parseValueOr(fd fieldRef) (node, error) {
	and := func() (node, error) { return p.parseValueAnd(fd) }
	return p.joined("or", and, func(kids []node) node { return &orNode{kids: kids} })
}

func (p *parser) parseValueAnd(fd fieldRef) (node, error) {
	not := func() (node, error) { return p.parseValueNot(fd) }
	return p.joined("and", not, func(kids []node) node { return &andNode{kids: kids} })
}

// parseValueNot parses what follows "field:" and each operand of a value
// list: a single value, a parenthesized value list, or 'not' before either.
func (p *parser) parseValueNot(fd fieldRef) (node, error) {
	t := p.peek()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	switch {
	case t.keyword() == "not":
		p.next()
		kid, err := p.parseValueNot(fd)
		if err != nil {
			return nil, err
		}
		return &notNode{kid: kid}, nil
	case t.kind == tLParen:
		p.next()
		n, err := p.parseValueOr(fd)
		if err != nil {
			return nil, err
		}
		if err := p.expectClose(t); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.parseValue(fd)
}

// parseValue parses one value: a quoted string or an unquoted run. An
// unquoted value may continue over whitespace into further words (as in
// "* curl*") when the result holds a wildcard, as the current grammars
// allow; words that are keywords or field names end it.
func (p *parser) parseValue(fd fieldRef) (node, error) {
	t := p.peek()
	switch {
	case t.kind == tQuoted:
		p.next()
		return newTerm(fd, literalTerm(t.text, true)), nil
	case t.kind == tWord && t.keyword() == "":
	case t.kind == tLBrace:
		return nil, unsupported(p.src, t.pos, "nested field query %s:{…}", fd.name)
	case t.kind == tEOF:
		return nil, syntaxErr(p.src, t.pos, "expected a value for field %s, found end of query", fd.name)
	default:
		return nil, syntaxErr(p.src, t.pos, "expected a value for field %s, found %s", fd.name, t.describe())
	}
	p.next()
	last := p.i
	for {
		w := p.toks[last]
		if w.kind != tWord || !w.spaceBefore || w.keyword() != "" {
			break
		}
		if k := p.toks[last+1].kind; k == tColon || k == tRange {
			break // the next field name
		}
		last++
	}
	if last == p.i {
		return newTerm(fd, wordTerm(t.text, t.glob, t.wild)), nil
	}
	text, pat, wild := t.text, t.glob, t.wild
	prev := t
	for _, w := range p.toks[p.i:last] {
		gap := p.src[prev.end:w.pos]
		text += gap + w.text
		pat += gap + w.glob
		wild = wild || w.wild
		prev = w
	}
	if !wild {
		w := p.toks[p.i]
		return nil, syntaxErr(p.src, w.pos, "unexpected %s after value %q: join values with 'and'/'or', or quote a value that contains spaces", w.describe(), t.text)
	}
	p.i = last
	return newTerm(fd, wordTerm(text, pat, true)), nil
}
