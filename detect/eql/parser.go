package eql

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Limits of the accepted language, to keep hostile input bounded.
const (
	maxDepth   = 200 // nesting of expressions
	maxRuns    = 100 // with runs=N
	maxSteps   = 256 // sequence steps after expanding runs
	maxListLen = 1 << 16
	// maxQueryLen bounds a query and MaxLiteralLen one string or name
	// in it, checked before any pattern is compiled: the longest of
	// Elastic's Linux rules is about 10 KB, its longest string under 200
	// bytes, and patterns cost memory and time in proportion to length.
	maxQueryLen = 64 << 10
)

type eventFilter struct {
	p        pos
	category string // "" with anyCat
	anyCat   bool
	cond     expr
}

type parsedTerm struct {
	filter eventFilter
	keys   []expr
	runs   int
}

type parsedSequence struct {
	p       pos
	keys    []expr
	maxSpan time.Duration
	terms   []parsedTerm
	until   *parsedTerm
}

type parsedQuery struct {
	single *eventFilter
	seq    *parsedSequence
	pipes  []Pipe
}

type parser struct {
	toks  []token
	i     int
	depth int
	// inKeys is set while join keys are parsed: a '[' after a field
	// starts the next step there, not an index.
	inKeys bool
}

// Features rejected because they cannot run on a stream in bounded
// memory; the reason is part of the message.
const (
	featureSample        = "sample (its samples are unordered, so every candidate event of the search window must be held until the window ends)"
	featureMissingEvents = "missing events ![...] (a missing step is known only once maxspan has passed without such an event, so every partial sequence must wait out maxspan)"
)

// MaxLiteralLen bounds one string literal or field name of a query.
const MaxLiteralLen = 8 << 10

func parse(src string) (*parsedQuery, error) {
	if len(src) > maxQueryLen {
		return nil, syntaxErr(pos{1, 1}, "query longer than %d bytes", maxQueryLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	for _, t := range toks {
		if len(t.text) > MaxLiteralLen {
			return nil, syntaxErr(t.pos, "literal longer than %d bytes", MaxLiteralLen)
		}
	}
	p := &parser{toks: toks}
	return p.query()
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(word string) bool { return p.peek().is(tkIdent, word) }

func (p *parser) isPunct(s string) bool { return p.peek().is(tkPunct, s) }

func (p *parser) expectPunct(s, what string) (token, error) {
	t := p.next()
	if !t.is(tkPunct, s) {
		return t, syntaxErr(t.pos, "expected '%s' %s, found %s", s, what, t.describe())
	}
	return t, nil
}

func (p *parser) query() (*parsedQuery, error) {
	q := &parsedQuery{}
	t := p.peek()
	switch {
	case t.is(tkIdent, "sequence"):
		seq, err := p.sequence()
		if err != nil {
			return nil, err
		}
		q.seq = seq
	case t.is(tkIdent, "sample"):
		return nil, unsupported(t.pos, featureSample)
	case t.is(tkIdent, "join"):
		return nil, unsupported(t.pos, "join (Endgame EQL)")
	case t.kind == tkEOF:
		return nil, syntaxErr(t.pos, "empty query")
	default:
		f, err := p.eventFilter()
		if err != nil {
			return nil, err
		}
		q.single = &f
	}
	if err := p.pipes(q); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		if t.is(tkPunct, "[") && q.single == nil {
			return nil, syntaxErr(t.pos, "unexpected '[' after the until step")
		}
		return nil, syntaxErr(t.pos, "unexpected %s after the end of the query", t.describe())
	}
	return q, nil
}

func (p *parser) pipes(q *parsedQuery) error {
	for p.isPunct("|") {
		bar := p.next()
		name := p.next()
		if name.kind != tkIdent {
			return syntaxErr(name.pos, "expected a pipe name after '|', found %s", name.describe())
		}
		if name.text != "head" && name.text != "tail" {
			return unsupported(bar.pos, "pipe | "+name.text)
		}
		if len(q.pipes) >= maxPipes {
			return syntaxErr(bar.pos, "more than %d pipes", maxPipes)
		}
		num := p.next()
		n, err := strconv.Atoi(num.text)
		if num.kind != tkNumber || err != nil || n <= 0 {
			return syntaxErr(num.pos, "| %s needs a positive integer, found %s", name.text, num.describe())
		}
		q.pipes = append(q.pipes, Pipe{Tail: name.text == "tail", N: n})
	}
	return nil
}

// maxPipes bounds a query's chain of pipes.
const maxPipes = 64

// eventFilter parses `category where condition`.
func (p *parser) eventFilter() (eventFilter, error) {
	t := p.next()
	f := eventFilter{p: t.pos}
	switch {
	case t.is(tkIdent, "any"):
		f.anyCat = true
	case t.kind == tkIdent || t.kind == tkString || t.kind == tkQuotedIdent:
		if t.kind == tkIdent && reserved[t.text] {
			return f, syntaxErr(t.pos, "expected an event category (e.g. process where ...), found %s", t.describe())
		}
		f.category = t.text
	default:
		return f, syntaxErr(t.pos, "expected an event category (e.g. process where ...), found %s", t.describe())
	}
	if w := p.peek(); !w.is(tkIdent, "where") {
		if w.is(tkIdent, "of") {
			return f, unsupported(t.pos, "event relationships (descendant/child/event of, Endgame EQL)")
		}
		return f, syntaxErr(w.pos, "expected 'where' after event category %q, found %s", t.text, w.describe())
	}
	p.next()
	cond, err := p.orExpr()
	if err != nil {
		return f, err
	}
	f.cond = cond
	return f, nil
}

func (p *parser) sequence() (*parsedSequence, error) {
	start := p.next()
	seq := &parsedSequence{p: start.pos}
	if p.isKeyword("by") {
		p.next()
		keys, err := p.joinKeys()
		if err != nil {
			return nil, err
		}
		seq.keys = keys
	}
	if p.isKeyword("with") {
		p.next()
		name := p.next()
		if !name.is(tkIdent, "maxspan") {
			return nil, syntaxErr(name.pos, "expected 'maxspan' after 'sequence ... with', found %s", name.describe())
		}
		if _, err := p.expectPunct("=", "after maxspan"); err != nil {
			return nil, err
		}
		d, err := p.timeSpan()
		if err != nil {
			return nil, err
		}
		seq.maxSpan = d
		if b := p.peek(); b.is(tkIdent, "by") {
			return nil, syntaxErr(b.pos, "write 'sequence by ...' before 'with maxspan=...', not after")
		}
	}
	for {
		t := p.peek()
		if t.is(tkPunct, "!") {
			return nil, unsupported(t.pos, featureMissingEvents)
		}
		if !t.is(tkPunct, "[") {
			break
		}
		term, err := p.term()
		if err != nil {
			return nil, err
		}
		seq.terms = append(seq.terms, term)
	}
	if len(seq.terms) == 0 {
		t := p.peek()
		return nil, syntaxErr(t.pos, "expected a sequence step '[ category where ... ]', found %s", t.describe())
	}
	if u := p.peek(); u.is(tkIdent, "until") {
		p.next()
		if !p.isPunct("[") {
			t := p.peek()
			return nil, syntaxErr(t.pos, "expected '[' after until, found %s", t.describe())
		}
		term, err := p.term()
		if err != nil {
			return nil, err
		}
		if term.runs != 1 {
			return nil, syntaxErr(u.pos, "until does not take runs")
		}
		seq.until = &term
	}
	steps := 0
	for _, t := range seq.terms {
		steps += t.runs
	}
	if steps > maxSteps {
		return nil, syntaxErr(start.pos, "sequence has %d steps, the most allowed is %d", steps, maxSteps)
	}
	// Every step joins on the same number of keys.
	want := -1
	check := func(t *parsedTerm) error {
		if want < 0 {
			want = len(t.keys)
		} else if len(t.keys) != want {
			return syntaxErr(t.filter.p, "inconsistent number of join keys: this step has %d, an earlier one %d", len(seq.keys)+len(t.keys), len(seq.keys)+want)
		}
		return nil
	}
	for i := range seq.terms {
		if err := check(&seq.terms[i]); err != nil {
			return nil, err
		}
	}
	if seq.until != nil {
		if err := check(seq.until); err != nil {
			return nil, err
		}
	}
	return seq, nil
}

// term parses `[ filter ] [by keys] [with runs=N]`.
func (p *parser) term() (parsedTerm, error) {
	p.next() // [
	term := parsedTerm{runs: 1}
	f, err := p.eventFilter()
	if err != nil {
		return term, err
	}
	term.filter = f
	if _, err := p.expectPunct("]", "to close the sequence step"); err != nil {
		return term, err
	}
	if p.isKeyword("by") {
		p.next()
		keys, err := p.joinKeys()
		if err != nil {
			return term, err
		}
		term.keys = keys
	}
	if p.isKeyword("with") {
		p.next()
		name := p.next()
		if !name.is(tkIdent, "runs") {
			return term, syntaxErr(name.pos, "expected 'runs' after a step's 'with', found %s", name.describe())
		}
		if _, err := p.expectPunct("=", "after runs"); err != nil {
			return term, err
		}
		num := p.next()
		n, err := strconv.Atoi(num.text)
		if num.kind != tkNumber || err != nil || n < 1 || n > maxRuns {
			return term, syntaxErr(num.pos, "runs must be an integer from 1 to %d, found %s", maxRuns, num.describe())
		}
		term.runs = n
	}
	return term, nil
}

// joinKeys parses the `by` keys: fields, or expressions over them
// (`by unique_pid * 2`, `by length(a)`).
func (p *parser) joinKeys() ([]expr, error) {
	var keys []expr
	p.inKeys = true
	defer func() { p.inKeys = false }()
	for {
		t := p.peek()
		if t.kind == tkEOF || t.is(tkPunct, "[") {
			return nil, syntaxErr(t.pos, "expected a join key after 'by', found %s", t.describe())
		}
		k, err := p.additive()
		if err != nil {
			return nil, err
		}
		if f, ok := k.(*fieldExpr); ok && strings.HasSuffix(f.name, "~") {
			return nil, syntaxErr(t.pos, "bad field name %q", f.name)
		}
		if l, ok := k.(*litExpr); ok {
			return nil, syntaxErr(t.pos, "a join key needs a field, found the value %s", exprString(l))
		}
		keys = append(keys, k)
		if !p.isPunct(",") {
			return keys, nil
		}
		p.next()
	}
}

func (p *parser) timeSpan() (time.Duration, error) {
	num := p.next()
	if num.kind != tkNumber {
		return 0, syntaxErr(num.pos, "expected a time span such as 5s after maxspan=, found %s", num.describe())
	}
	n, err := strconv.ParseInt(num.text, 10, 64)
	if err != nil || n <= 0 {
		return 0, syntaxErr(num.pos, "maxspan must be a positive integer with a unit (ms, s, m, h, d), found %s", num.describe())
	}
	unit := p.peek()
	if unit.kind != tkIdent || unit.pos.line != num.pos.line {
		return 0, syntaxErr(unit.pos, "maxspan needs a time unit (ms, s, m, h, d), as in %ss", num.text)
	}
	var u time.Duration
	switch unit.text {
	case "ms":
		u = time.Millisecond
	case "s":
		u = time.Second
	case "m":
		u = time.Minute
	case "h":
		u = time.Hour
	case "d":
		u = 24 * time.Hour
	default:
		return 0, syntaxErr(unit.pos, "unknown time unit %q: use ms, s, m, h or d", unit.text)
	}
	p.next()
	if n > int64(math.MaxInt64/u) {
		return 0, syntaxErr(num.pos, "maxspan too large")
	}
	return time.Duration(n) * u, nil
}

// reserved words cannot be field names.
var reserved = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "in~": true, "like": true, "like~": true,
	"regex": true, "regex~": true, "where": true, "true": true, "false": true, "null": true,
	"sequence": true, "sample": true, "join": true, "until": true, "by": true, "with": true, "of": true,
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return syntaxErr(t.pos, "expression nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) orExpr() (expr, error) {
	if err := p.enter(p.peek()); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		t := p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &orExpr{p: t.pos, l: l, r: r}
	}
	return l, nil
}

func (p *parser) andExpr() (expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		t := p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &andExpr{p: t.pos, l: l, r: r}
	}
	return l, nil
}

func (p *parser) notExpr() (expr, error) {
	if p.isKeyword("not") {
		t := p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &notExpr{p: t.pos, x: x}, nil
	}
	return p.predicate()
}

var cmpOps = map[string]bool{"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) predicate() (expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tkPunct && cmpOps[t.text]:
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		return &cmpExpr{p: t.pos, op: t.text, l: l, r: r}, nil
	case t.is(tkPunct, "="):
		return nil, syntaxErr(t.pos, "'=' is not an EQL operator: use '==' (case-sensitive) or ':' (case-insensitive)")
	case t.is(tkIdent, "not") && (p.peekN(1).is(tkIdent, "in") || p.peekN(1).is(tkIdent, "in~")):
		p.next()
		in := p.next()
		return p.inList(l, in, true)
	case t.is(tkIdent, "in") || t.is(tkIdent, "in~"):
		p.next()
		return p.inList(l, t, false)
	case t.is(tkPunct, ":") || t.is(tkIdent, "like") || t.is(tkIdent, "like~") || t.is(tkIdent, "regex") || t.is(tkIdent, "regex~"):
		p.next()
		return p.patterns(l, t)
	}
	return l, nil
}

func (p *parser) inList(x expr, op token, neg bool) (expr, error) {
	if _, err := p.expectPunct("(", "after "+op.text); err != nil {
		return nil, err
	}
	e := &inExpr{p: op.pos, x: x, fold: op.text == "in~", neg: neg}
	for {
		v, err := p.additive()
		if err != nil {
			return nil, err
		}
		e.list = append(e.list, v)
		if len(e.list) > maxListLen {
			return nil, syntaxErr(op.pos, "list longer than %d values", maxListLen)
		}
		if p.isPunct(",") {
			p.next()
			continue
		}
		if _, err := p.expectPunct(")", "or ',' in the value list"); err != nil {
			return nil, err
		}
		return e, nil
	}
}

// patterns parses the constant operand(s) of :, like, like~, regex, regex~.
func (p *parser) patterns(x expr, op token) (expr, error) {
	e := &matchExpr{p: op.pos, op: op.text, x: x}
	one := func() error {
		t := p.next()
		switch {
		case t.kind == tkString:
			e.patterns = append(e.patterns, t.text)
			e.patPos = append(e.patPos, t.pos)
			return nil
		case op.text == ":" && (t.kind == tkNumber || t.is(tkIdent, "true") || t.is(tkIdent, "false")):
			// ':' against a number or boolean is plain equality.
			e.patterns = append(e.patterns, t.text)
			e.patPos = append(e.patPos, t.pos)
			return nil
		}
		return syntaxErr(t.pos, "'%s' needs a string constant (or a list of them), found %s", op.text, t.describe())
	}
	if p.isPunct("(") {
		p.next()
		for {
			if err := one(); err != nil {
				return nil, err
			}
			if len(e.patterns) > maxListLen {
				return nil, syntaxErr(op.pos, "list longer than %d values", maxListLen)
			}
			if p.isPunct(",") {
				p.next()
				continue
			}
			if _, err := p.expectPunct(")", "or ',' in the pattern list"); err != nil {
				return nil, err
			}
			return e, nil
		}
	}
	if err := one(); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) additive() (expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.isPunct("+") || p.isPunct("-") {
		t := p.next()
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &arithExpr{p: t.pos, op: t.text[0], l: l, r: r}
	}
	return l, nil
}

func (p *parser) multiplicative() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isPunct("*") || p.isPunct("/") || p.isPunct("%") {
		t := p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &arithExpr{p: t.pos, op: t.text[0], l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (expr, error) {
	if p.isPunct("-") || p.isPunct("+") {
		t := p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		if lit, ok := x.(*litExpr); ok {
			switch lit.v.Kind {
			case ecs.Int:
				if lit.v.Int() != math.MinInt64 {
					return &litExpr{p: t.pos, v: ecs.IntVal(-lit.v.Int())}, nil
				}
			case ecs.Float:
				return &litExpr{p: t.pos, v: ecs.FloatVal(-lit.v.Float())}, nil
			}
		}
		return &negExpr{p: t.pos, x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tkNumber:
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &litExpr{p: t.pos, v: ecs.IntVal(i)}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, syntaxErr(t.pos, "bad number %s", t.text)
		}
		return &litExpr{p: t.pos, v: ecs.FloatVal(f)}, nil
	case tkString:
		return &litExpr{p: t.pos, v: ecs.Str(t.text)}, nil
	case tkQuotedIdent:
		return p.fieldTail(&fieldExpr{p: t.pos, name: t.text})
	case tkPunct:
		switch t.text {
		case "(":
			x, err := p.orExpr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectPunct(")", "to close '('"); err != nil {
				return nil, err
			}
			return x, nil
		case "?":
			n := p.next()
			if n.kind == tkQuotedIdent || (n.kind == tkIdent && !reserved[n.text] && !strings.HasSuffix(n.text, "~")) {
				return p.fieldTail(&fieldExpr{p: t.pos, name: n.text, optional: true})
			}
			return nil, syntaxErr(n.pos, "expected a field name after '?', found %s", n.describe())
		}
	case tkIdent:
		switch t.text {
		case "true":
			return &litExpr{p: t.pos, v: ecs.BoolVal(true)}, nil
		case "false":
			return &litExpr{p: t.pos, v: ecs.BoolVal(false)}, nil
		case "null":
			return &litExpr{p: t.pos, v: ecs.NullVal()}, nil
		}
		if p.isPunct("(") {
			return p.call(t)
		}
		if reserved[t.text] {
			break
		}
		if strings.HasSuffix(t.text, "~") {
			return nil, syntaxErr(t.pos, "'~' follows a function name only when it is called: %s(...)", t.text)
		}
		if (t.text == "descendant" || t.text == "child") && p.isKeyword("of") {
			return nil, unsupported(t.pos, "event relationships (descendant/child/event of, Endgame EQL)")
		}
		return p.fieldTail(&fieldExpr{p: t.pos, name: t.text})
	}
	return nil, syntaxErr(t.pos, "expected a field, value or function, found %s", t.describe())
}

func (p *parser) fieldTail(f *fieldExpr) (expr, error) {
	if t := p.peek(); t.is(tkPunct, "[") && !p.inKeys {
		return nil, unsupported(t.pos, "array index field[N]")
	}
	return f, nil
}

func (p *parser) call(name token) (expr, error) {
	p.next() // (
	if err := p.enter(name); err != nil {
		return nil, err
	}
	defer p.leave()
	fn := strings.ToLower(strings.TrimSuffix(name.text, "~"))
	c := &callExpr{p: name.pos, name: fn, fold: strings.HasSuffix(name.text, "~")}
	if p.isPunct(")") {
		p.next()
		return c, nil
	}
	for {
		a, err := p.orExpr()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		if len(c.args) > maxListLen {
			return nil, syntaxErr(name.pos, "too many arguments")
		}
		if p.isPunct(",") {
			p.next()
			continue
		}
		if _, err := p.expectPunct(")", "or ',' in the arguments of "+name.text); err != nil {
			return nil, err
		}
		return c, nil
	}
}
