package eql

import (
	"strconv"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// expr is a node of a parsed condition.
type expr interface {
	at() pos
	// write renders the node in a canonical, fully parenthesised form
	// (used by tests and golden files).
	write(b *strings.Builder)
}

type (
	andExpr struct {
		p    pos
		l, r expr
	}
	orExpr struct {
		p    pos
		l, r expr
	}
	notExpr struct {
		p pos
		x expr
	}
	// cmpExpr is ==, !=, <, <=, >, >=.
	cmpExpr struct {
		p    pos
		op   string
		l, r expr
	}
	// inExpr is `x in (...)`, `x in~ (...)`, `x not in (...)`.
	inExpr struct {
		p    pos
		x    expr
		list []expr
		fold bool
		neg  bool
	}
	// matchExpr is `:`, like, like~, regex, regex~ against constant patterns.
	matchExpr struct {
		p        pos
		op       string // ":", "like", "like~", "regex", "regex~"
		x        expr
		patterns []string
		patPos   []pos
		// regexes are the compiled patterns of regex and regex~, set when
		// the query is compiled and only read after: the compilations for
		// a shape (EventFor) reuse them, and the index reads the
		// conditions their prechecks state (leafPrefilter).
		regexes []*checkedRegex
	}
	fieldExpr struct {
		p        pos
		name     string
		optional bool // ?field
	}
	litExpr struct {
		p pos
		v ecs.Value // String, Int, Float, Bool or Null
	}
	callExpr struct {
		p    pos
		name string // lower case, without ~
		fold bool   // name~(...)
		args []expr
	}
	arithExpr struct {
		p    pos
		op   byte // + - * / %
		l, r expr
	}
	negExpr struct {
		p pos
		x expr
	}
)

func (e *andExpr) at() pos   { return e.p }
func (e *orExpr) at() pos    { return e.p }
func (e *notExpr) at() pos   { return e.p }
func (e *cmpExpr) at() pos   { return e.p }
func (e *inExpr) at() pos    { return e.p }
func (e *matchExpr) at() pos { return e.p }
func (e *fieldExpr) at() pos { return e.p }
func (e *litExpr) at() pos   { return e.p }
func (e *callExpr) at() pos  { return e.p }
func (e *arithExpr) at() pos { return e.p }
func (e *negExpr) at() pos   { return e.p }

func (e *andExpr) write(b *strings.Builder) { writeList(b, "and", e.l, e.r) }
func (e *orExpr) write(b *strings.Builder)  { writeList(b, "or", e.l, e.r) }
func (e *notExpr) write(b *strings.Builder) { writeList(b, "not", e.x) }
func (e *cmpExpr) write(b *strings.Builder) { writeList(b, e.op, e.l, e.r) }
func (e *arithExpr) write(b *strings.Builder) {
	writeList(b, string(e.op), e.l, e.r)
}
func (e *negExpr) write(b *strings.Builder) { writeList(b, "neg", e.x) }

func (e *inExpr) write(b *strings.Builder) {
	op := "in"
	if e.fold {
		op = "in~"
	}
	if e.neg {
		op = "not-" + op
	}
	b.WriteString("(" + op + " ")
	e.x.write(b)
	b.WriteString(" [")
	for i, x := range e.list {
		if i > 0 {
			b.WriteByte(' ')
		}
		x.write(b)
	}
	b.WriteString("])")
}

func (e *matchExpr) write(b *strings.Builder) {
	b.WriteString("(" + e.op + " ")
	e.x.write(b)
	b.WriteString(" [")
	for i, p := range e.patterns {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(p))
	}
	b.WriteString("])")
}

func (e *fieldExpr) write(b *strings.Builder) {
	if e.optional {
		b.WriteByte('?')
	}
	b.WriteString(e.name)
}

func (e *litExpr) write(b *strings.Builder) {
	switch e.v.Kind {
	case ecs.String:
		b.WriteString(strconv.Quote(e.v.Str))
	case ecs.Null:
		b.WriteString("null")
	default:
		s, _ := e.v.Text()
		b.WriteString(s)
	}
}

func (e *callExpr) write(b *strings.Builder) {
	name := e.name
	if e.fold {
		name += "~"
	}
	writeList(b, name+"()", e.args...)
}

func writeList(b *strings.Builder, head string, xs ...expr) {
	b.WriteString("(" + head)
	for _, x := range xs {
		b.WriteByte(' ')
		x.write(b)
	}
	b.WriteByte(')')
}

func exprString(e expr) string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}
