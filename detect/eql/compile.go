// Package eql compiles Elastic Event Query Language (EQL) queries, as
// Elasticsearch runs them for detection rules, into predicates over
// ecs.Event and a streaming matcher for sequences.
//
// Semantics follow Elasticsearch's EQL (not Endgame's):
//   - ==, !=, in, not in, like, regex, <, <=, >, >= and functions are case
//     sensitive; ':', in~, like~, regex~ and fn~(...) are not; ':' is like~.
//   - '*' and '?' are wildcards only under ':', like and like~; == and in
//     compare literally. Patterns and regular expressions are anchored.
//   - A field that is missing (or null) fails every comparison, while !=
//     and not succeed on it (Elasticsearch's must_not), except that not
//     over an ordering comparison is the opposite comparison and not over
//     a condition Elasticsearch runs as a script (functions, computed
//     values) stays null. A condition used as a value is three-valued.
//     field == null tests absence, field != null presence. See null.go.
//   - A multi-valued field satisfies a comparison when any element does;
//     != on it holds unless some element equals.
//   - Keyword text and numbers compare as Elasticsearch coerces them: the
//     string "0" equals the number 0.
//
// Unknown fields are never an error; ?field parses and behaves as field.
//
// regex and regex~ take Lucene syntax and run on Go's RE2 after a
// translation (see translateRegex): anchored, '.' matching newlines, \d \s
// \w kept, '^' and '$' literal, Lucene's optional operators literal.
//
// Sequences run on a streaming Matcher (see Matcher). The `| head N` and
// `| tail N` pipes (chained in any order) are reported in Query and left
// to the caller (ApplyPipes); every other pipe, `sample`, missing events
// `![...]` and Endgame-only syntax are rejected with an UnsupportedError
// naming the feature.
//
// A compiled Query and its predicates are safe for concurrent use; a
// Matcher is not. Field names are resolved to ecs.Field ids when compiling.
package eql

import (
	"sort"
	"strings"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/glob"
)

// Options tune compilation.
type Options struct {
	// CategoryField is the field `X where` tests; default "event.category".
	CategoryField string
}

// Query is a compiled EQL query: either a single-event condition or a
// sequence.
type Query struct {
	// Fields lists the fields the query reads, sorted and without
	// duplicates (the category field and join keys included).
	Fields []string
	// Event matches one event, category test included. It is nil for
	// sequences.
	Event ecs.Predicate
	// Sequence is set for sequence queries.
	Sequence *Sequence
	// Pipes are the query's `| head N` and `| tail N` pipes, in order.
	// Applying them is the caller's business (see ApplyPipes): a stream
	// has no end.
	Pipes []Pipe
	// Head and Tail are N of the first `| head N` and of the first
	// `| tail N` pipe (0 = none): nonzero when the query has any.
	Head, Tail int
	// Prefilters are necessary conditions: an event the query (or any
	// step of the sequence) can match satisfies at least one of them. Nil
	// when the query states none an index could use.
	Prefilters []ecs.Prefilter

	tree     string
	filters  []*eventFilter // the query's, or every step's and until's
	catField ecs.Field
}

// String renders the parsed query in a canonical, fully parenthesised form.
func (q *Query) String() string { return q.tree }

// Compile parses and compiles src. Errors are *SyntaxError or
// *UnsupportedError.
func Compile(src string, opts Options) (*Query, error) {
	if opts.CategoryField == "" {
		opts.CategoryField = "event.category"
	}
	pq, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{fields: map[string]struct{}{}}
	catID, err := c.fieldID(opts.CategoryField, pos{1, 1})
	if err != nil {
		return nil, err
	}
	c.catField = catID
	q := &Query{Pipes: pq.pipes, catField: catID}
	for _, pp := range pq.pipes {
		if pp.Tail && q.Tail == 0 {
			q.Tail = pp.N
		} else if !pp.Tail && q.Head == 0 {
			q.Head = pp.N
		}
	}
	var tree strings.Builder
	if pq.single != nil {
		pred, err := c.filter(pq.single)
		if err != nil {
			return nil, err
		}
		q.Event = pred
		q.Prefilters = prefilters(pq.single)
		q.filters = []*eventFilter{pq.single}
		writeFilter(&tree, pq.single)
	} else {
		seq, err := c.sequence(pq.seq, &tree)
		if err != nil {
			return nil, err
		}
		seq.src = src
		q.Sequence = seq
		filters := make([]*eventFilter, 0, len(pq.seq.terms)+1)
		for i := range pq.seq.terms {
			filters = append(filters, &pq.seq.terms[i].filter)
		}
		if pq.seq.until != nil {
			filters = append(filters, &pq.seq.until.filter)
		}
		q.Prefilters = prefilters(filters...)
		q.filters = filters
	}
	for _, pp := range q.Pipes {
		if pp.Tail {
			tree.WriteString(" | tail ")
		} else {
			tree.WriteString(" | head ")
		}
		tree.WriteString(itoa(pp.N))
	}
	q.tree = tree.String()
	for f := range c.fields {
		q.Fields = append(q.Fields, f)
	}
	sort.Strings(q.Fields)
	return q, nil
}

// Pipe is one `| head N` (the first N results) or `| tail N` (the last N).
type Pipe struct {
	Tail bool
	N    int
}

// ApplyPipes returns the window of n results (in order) the pipes keep:
// results [from, to).
func ApplyPipes(pipes []Pipe, n int) (from, to int) {
	from, to = 0, n
	for _, p := range pipes {
		if to-from <= p.N {
			continue
		}
		if p.Tail {
			from = to - p.N
		} else {
			to = from + p.N
		}
	}
	return from, to
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func writeFilter(b *strings.Builder, f *eventFilter) {
	if f.anyCat {
		b.WriteString("any")
	} else {
		b.WriteString(f.category)
	}
	b.WriteString(" where ")
	f.cond.write(b)
}

type compiler struct {
	fields   map[string]struct{}
	catField ecs.Field
	// shape, when set, is what every event the predicates will see
	// promises: conditions it settles compile to constants.
	shape *ecs.Shape
	// script compiles conditions the way Elasticsearch evaluates them
	// in a script (a condition used as a value): three-valued throughout.
	// Otherwise conditions compile the way it runs them as queries (see
	// null.go).
	script bool
}

// settled is e's verdict over every event of the compiler's shape: Maybe
// when there is none or the shape does not settle e.
func (c *compiler) settled(e expr) ecs.Tri {
	if c.shape == nil {
		return ecs.Maybe
	}
	return condVerdict(e, c.shape)
}

// EventFor returns the query's Event predicate specialised for events of
// shape s: the conditions s settles (the category, event.type, host.os.type
// and fields s never carries) are decided once, here, instead of on every
// event. It returns Event itself for a nil shape or a sequence query.
func (q *Query) EventFor(s *ecs.Shape) ecs.Predicate {
	if s == nil || q.Event == nil {
		return q.Event
	}
	return filterFor(q.filters[0], q.catField, s, q.Event)
}

// filterFor compiles f again for events of shape, or returns compiled (f
// as compiled for any event) when it cannot be.
func filterFor(f *eventFilter, catField ecs.Field, shape *ecs.Shape, compiled ecs.Predicate) ecs.Predicate {
	c := &compiler{fields: map[string]struct{}{}, catField: catField, shape: shape}
	p, err := c.filter(f)
	if err != nil {
		return compiled
	}
	return p
}

func (c *compiler) fieldID(name string, p pos) (ecs.Field, error) {
	id, ok := ecs.FieldOf(name)
	if !ok {
		return 0, syntaxErr(p, "too many distinct field names (limit %d)", ecs.MaxFields)
	}
	c.fields[name] = struct{}{}
	return id, nil
}

// filter compiles `category where cond` into one predicate.
func (c *compiler) filter(f *eventFilter) (ecs.Predicate, error) {
	cond, err := c.boolean(f.cond)
	if err != nil {
		return nil, err
	}
	if f.anyCat {
		return cond, nil
	}
	if c.shape != nil {
		if v, known := c.shape.Knows(c.catField); known {
			if !hasString(v, f.category) {
				return alwaysFalse, nil
			}
			return cond, nil
		}
	}
	c.fields[c.catField.Name()] = struct{}{}
	cat, catID := f.category, c.catField
	return func(ev *ecs.Event) bool {
		v := ev.Ref(catID)
		if v == nil {
			return false
		}
		found := false
		for _, e := range v.Elems() {
			if e.Kind == ecs.String && e.Str == cat {
				found = true
				break
			}
		}
		return found && cond(ev)
	}, nil
}

var (
	alwaysFalse ecs.Predicate = func(*ecs.Event) bool { return false }
	alwaysTrue  ecs.Predicate = func(*ecs.Event) bool { return true }
)

func not(p ecs.Predicate) ecs.Predicate { return func(ev *ecs.Event) bool { return !p(ev) } }

// boolean compiles a condition.
func (c *compiler) boolean(e expr) (ecs.Predicate, error) {
	switch c.settled(e) {
	case ecs.True:
		return alwaysTrue, nil
	case ecs.False:
		return alwaysFalse, nil
	}
	return c.open(e)
}

// open compiles a condition the compiler's shape, if any, leaves open.
func (c *compiler) open(e expr) (ecs.Predicate, error) {
	switch e := e.(type) {
	case *andExpr, *orExpr:
		return c.junction(e)
	case *notExpr:
		return c.notOf(e.x)
	case *cmpExpr:
		return c.comparison(e)
	case *inExpr:
		return c.in(e)
	case *matchExpr:
		return c.match(e)
	case *litExpr:
		switch e.v.Kind {
		case ecs.Bool:
			if e.v.Bool() {
				return alwaysTrue, nil
			}
			return alwaysFalse, nil
		case ecs.Null:
			return alwaysFalse, nil
		}
		return nil, syntaxErr(e.p, "a condition is needed here, found the value %s", exprString(e))
	case *fieldExpr:
		id, err := c.fieldID(e.name, e.p)
		if err != nil {
			return nil, err
		}
		return func(ev *ecs.Event) bool { return anyElem(ev.Ref(id), isTrue) }, nil
	case *callExpr:
		if e.name == "cidrmatch" {
			if p, ok, err := c.cidrMatchFast(e); ok || err != nil {
				return p, err
			}
		}
		fn, err := c.call(e)
		if err != nil {
			return nil, err
		}
		return truthy(fn), nil
	case *arithExpr, *negExpr:
		return nil, syntaxErr(e.at(), "a condition is needed here, found arithmetic %s", exprString(e))
	}
	return nil, syntaxErr(e.at(), "unexpected expression %s", exprString(e))
}

// junction compiles a chain of and (or of or) into one loop over its
// operands rather than nested closures.
func (c *compiler) junction(e expr) (ecs.Predicate, error) {
	_, isAnd := e.(*andExpr)
	operands := flatten(e, isAnd)
	// The junction is open, so an operand the shape settles holds the
	// neutral value (true under and, false under or): it drops out.
	kept := operands[:0]
	for _, x := range operands {
		if c.settled(x) == ecs.Maybe {
			kept = append(kept, x)
		}
	}
	operands = kept
	if len(operands) == 1 {
		return c.open(operands[0])
	}
	if isAnd {
		orderBySelectivity(operands)
	}
	preds := make([]ecs.Predicate, len(operands))
	for i, x := range operands {
		p, err := c.open(x)
		if err != nil {
			return nil, err
		}
		preds[i] = p
	}
	if len(preds) == 2 {
		l, r := preds[0], preds[1]
		if isAnd {
			return func(ev *ecs.Event) bool { return l(ev) && r(ev) }, nil
		}
		return func(ev *ecs.Event) bool { return l(ev) || r(ev) }, nil
	}
	if isAnd {
		return func(ev *ecs.Event) bool {
			for _, p := range preds {
				if !p(ev) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(ev *ecs.Event) bool {
		for _, p := range preds {
			if p(ev) {
				return true
			}
		}
		return false
	}, nil
}

func isTrue(e *ecs.Value) bool { return e.Kind == ecs.Bool && e.Bool() }

func truthy(fn valueFn) ecs.Predicate {
	return func(ev *ecs.Event) bool {
		// Testing the value in place: passing &v on to a function value
		// would move v to the heap on every call.
		v := fn(ev)
		if v.Kind != ecs.Array {
			return v.Kind == ecs.Bool && v.Bool()
		}
		for _, e := range v.Arr {
			if e.Kind == ecs.Bool && e.Bool() {
				return true
			}
		}
		return false
	}
}

func isNullLit(e expr) bool {
	l, ok := e.(*litExpr)
	return ok && l.v.Kind == ecs.Null
}

// exists compiles "e has a non-null value".
func (c *compiler) exists(e expr) (ecs.Predicate, error) {
	if f, ok := e.(*fieldExpr); ok {
		id, err := c.fieldID(f.name, f.p)
		if err != nil {
			return nil, err
		}
		return func(ev *ecs.Event) bool {
			v := ev.Ref(id)
			return v != nil && v.Exists()
		}, nil
	}
	fn, err := c.value(e)
	if err != nil {
		return nil, err
	}
	return func(ev *ecs.Event) bool { return fn(ev).Exists() }, nil
}

func (c *compiler) comparison(e *cmpExpr) (ecs.Predicate, error) {
	if isNullLit(e.l) || isNullLit(e.r) {
		other := e.l
		if isNullLit(e.l) {
			other = e.r
		}
		if isNullLit(other) {
			// null == null
			if e.op == "==" {
				return alwaysTrue, nil
			}
			return alwaysFalse, nil
		}
		has, err := c.exists(other)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "==":
			return not(has), nil
		case "!=":
			return has, nil
		}
		return alwaysFalse, nil
	}
	op := e.op
	eq := op
	if op == "!=" {
		eq = "=="
	}
	x, lit := e.l, e.r
	if _, ok := x.(*litExpr); ok {
		x, lit = e.r, e.l
		eq = mirror(eq)
	}
	var p ecs.Predicate
	if l, ok := lit.(*litExpr); ok {
		cst := makeConst(l.v)
		var test func(*ecs.Value) bool
		if eq == "==" {
			test = func(el *ecs.Value) bool { return equalConst(el, &cst) }
		} else {
			test = func(el *ecs.Value) bool {
				r, ok := orderConst(el, &cst)
				return ok && cmpTest(eq, r)
			}
		}
		var err error
		if p, err = c.anyOf(x, test); err != nil {
			return nil, err
		}
	} else {
		lf, err := c.value(e.l)
		if err != nil {
			return nil, err
		}
		rf, err := c.value(e.r)
		if err != nil {
			return nil, err
		}
		p = func(ev *ecs.Event) bool {
			lv, rv := lf(ev), rf(ev)
			return anyElem(&lv, func(a *ecs.Value) bool {
				return anyElem(&rv, func(b *ecs.Value) bool {
					cst := makeConst(*b)
					if eq == "==" {
						return equalConst(a, &cst)
					}
					r, ok := orderConst(a, &cst)
					return ok && cmpTest(eq, r)
				})
			})
		}
	}
	if op == "!=" {
		if c.script || !pushable(e) {
			return c.presentAnd(e, not(p))
		}
		return not(p), nil
	}
	return p, nil
}

// anyOf compiles "some element of x satisfies test"; reading a field
// directly keeps it allocation-free.
func (c *compiler) anyOf(x expr, test func(*ecs.Value) bool) (ecs.Predicate, error) {
	if f, ok := x.(*fieldExpr); ok {
		id, err := c.fieldID(f.name, f.p)
		if err != nil {
			return nil, err
		}
		return func(ev *ecs.Event) bool { return anyElem(ev.Ref(id), test) }, nil
	}
	fn, err := c.value(x)
	if err != nil {
		return nil, err
	}
	return func(ev *ecs.Event) bool {
		v := fn(ev)
		return anyElem(&v, test)
	}, nil
}

// textFilter rules out, without hashing, most text that a set of strings
// does not hold: by its length (up to 62 bytes one by one, longer ones
// together) and its first byte. A rule's list of constants is asked far
// more often about values it does not hold than about ones it does.
type textFilter struct {
	lens  uint64  // bit n: a member n bytes long; bit 63: one 63 or longer
	first byteSet // the first bytes of the non-empty members
}

func (f *textFilter) add(s string) {
	f.lens |= 1 << min(len(s), 63)
	if s != "" {
		f.first.add(s[0])
	}
}

// mayHold reports false when no member of the set can equal s.
func (f *textFilter) mayHold(s string) bool {
	return f.lens&(1<<min(len(s), 63)) != 0 && (s == "" || f.first.has(s[0]))
}

// valueSet is a precompiled `in` list of constants.
type valueSet struct {
	strs     map[string]struct{} // strings (lower-cased when fold)
	strsIn   textFilter          // rules out most text strs does not hold
	numAll   map[float64]struct{}
	numKinds map[float64]struct{} // only constants that are numbers
	bools    [2]bool
	fold     bool
}

func (s *valueSet) has(e *ecs.Value) bool {
	switch e.Kind {
	case ecs.String:
		if s.fold {
			if inFoldSet(s.strs, e.Str) {
				return true
			}
		} else if s.strsIn.mayHold(e.Str) {
			if _, ok := s.strs[e.Str]; ok {
				return true
			}
		}
		if len(s.numKinds) > 0 {
			if n, ok := parseNum(e.Str); ok {
				_, hit := s.numKinds[n]
				return hit
			}
		}
	case ecs.Int, ecs.Float:
		_, ok := s.numAll[e.Float()]
		return ok
	case ecs.Bool:
		return s.bools[e.Int()]
	}
	return false
}

func (c *compiler) in(e *inExpr) (ecs.Predicate, error) {
	allConst := true
	for _, x := range e.list {
		if _, ok := x.(*litExpr); !ok {
			allConst = false
		}
	}
	var p ecs.Predicate
	if allConst {
		set := &valueSet{strs: map[string]struct{}{}, numAll: map[float64]struct{}{}, numKinds: map[float64]struct{}{}, fold: e.fold}
		hasNull := false
		for _, x := range e.list {
			v := x.(*litExpr).v
			switch v.Kind {
			case ecs.String:
				s := v.Str
				if e.fold {
					s = strings.ToLower(s)
				}
				set.strs[s] = struct{}{}
				set.strsIn.add(s)
				if n, ok := parseNum(v.Str); ok {
					set.numAll[n] = struct{}{}
				}
			case ecs.Int, ecs.Float:
				set.numAll[v.Float()] = struct{}{}
				set.numKinds[v.Float()] = struct{}{}
			case ecs.Bool:
				set.bools[v.Int()] = true
			case ecs.Null:
				hasNull = true
			}
		}
		var err error
		if p, err = c.anyOf(e.x, set.has); err != nil {
			return nil, err
		}
		if hasNull {
			has, err := c.exists(e.x)
			if err != nil {
				return nil, err
			}
			inner := p
			p = func(ev *ecs.Event) bool { return !has(ev) || inner(ev) }
		}
	} else {
		xf, err := c.value(e.x)
		if err != nil {
			return nil, err
		}
		items := make([]valueFn, len(e.list))
		for i, it := range e.list {
			if items[i], err = c.value(it); err != nil {
				return nil, err
			}
		}
		fold := e.fold
		p = func(ev *ecs.Event) bool {
			xv := xf(ev)
			for _, it := range items {
				iv := it(ev)
				if anyElem(&xv, func(a *ecs.Value) bool {
					return anyElem(&iv, func(b *ecs.Value) bool {
						if fold && a.Kind == ecs.String && b.Kind == ecs.String {
							return strings.EqualFold(a.Str, b.Str)
						}
						cst := makeConst(*b)
						return equalConst(a, &cst)
					})
				}) {
					return true
				}
			}
			return false
		}
	}
	if e.neg {
		if c.script || !pushable(e) {
			return c.presentAnd(e, not(p))
		}
		return not(p), nil
	}
	return p, nil
}

// patternSet is a precompiled list of wildcard patterns: the ones without
// wildcards in a set, the rest in a slice. Case-insensitive sets hold
// lower-cased patterns and lower the input once, which is what folding
// means for these patterns.
type patternSet struct {
	lits      map[string]struct{}
	litsIn    textFilter      // rules out most text lits does not hold
	globs     []*glob.Pattern // lower-cased sources, matched case-sensitively
	globsIn   endFilter       // rules out most text no glob matches
	foldGlobs []*glob.Pattern // original sources, matched folding (fold only)
	fold      bool
}

// foldBuf is the longest input lowered on the stack; longer input is
// matched with the folding patterns instead.
const foldBuf = 128

func (s *patternSet) match(e *ecs.Value) bool {
	str, ok := textOf(e)
	if !ok {
		return false
	}
	if !s.fold {
		return s.matchLower(str)
	}
	if len(str) <= foldBuf && isASCII(str) {
		var buf [foldBuf]byte
		for i := 0; i < len(str); i++ {
			c := str[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		// The lowered copy lives on the stack: nothing below keeps it.
		return s.matchLower(unsafe.String(&buf[0], len(str)))
	}
	if inFoldSet(s.lits, str) {
		return true
	}
	for _, g := range s.foldGlobs {
		if g.Match(str) {
			return true
		}
	}
	return false
}

// matchLower matches str, already lower-cased when the set folds.
func (s *patternSet) matchLower(str string) bool {
	if s.litsIn.mayHold(str) {
		if _, hit := s.lits[str]; hit {
			return true
		}
	}
	if !s.globsIn.mayMatch(str) {
		return false
	}
	for _, g := range s.globs {
		if g.Match(str) {
			return true
		}
	}
	return false
}

// globEnd holds the byte a glob's matches start with and the byte they
// end with, where its pattern fixes them.
type globEnd struct {
	first, last       byte
	hasFirst, hasLast bool
}

func globEndOf(g *glob.Pattern) globEnd {
	head, tail := g.Ends()
	var e globEnd
	if head != "" {
		e.first, e.hasFirst = head[0], true
	}
	if tail != "" {
		e.last, e.hasLast = tail[len(tail)-1], true
	}
	return e
}

// rulesOut reports whether text s cannot match the glob.
func (e globEnd) rulesOut(s string) bool {
	if s == "" {
		return e.hasFirst || e.hasLast
	}
	return e.hasFirst && s[0] != e.first || e.hasLast && s[len(s)-1] != e.last
}

// endFilter rules out text that no glob of a set can match by its first
// and last bytes: a glob with literal text at its start adds its first
// byte to first; one with none there but some at its end adds its last
// byte to last; one with neither leaves the set open to every text. A
// rule's globs are asked mostly about text none of them matches. (Testing
// each glob's own end bytes before it runs cost more than it saved.)
type endFilter struct {
	first, last byteSet
	open        bool
}

func (f *endFilter) add(e globEnd) {
	switch {
	case e.hasFirst:
		f.first.add(e.first)
	case e.hasLast:
		f.last.add(e.last)
	default:
		f.open = true
	}
}

// mayMatch reports false when no glob of the set can match s.
func (f *endFilter) mayMatch(s string) bool {
	return f.open || s != "" && (f.first.has(s[0]) || f.last.has(s[len(s)-1]))
}

// matchIn is match over every element of v, a value of ev, for a set that
// folds: text match would lower on the stack is lowered through ev
// instead (LowerASCII), once for every rule.
func (s *patternSet) matchIn(ev *ecs.Event, v *ecs.Value) bool {
	if v == nil {
		return false
	}
	els := v.Elems()
	for i := range els {
		e := &els[i]
		switch e.Kind {
		case ecs.Null, ecs.Missing:
			continue
		case ecs.String:
			// Longer text takes match's own path, as it always has.
			if len(e.Str) > foldBuf {
				break
			}
			if low, ascii := ev.LowerASCII(e.Str); ascii {
				if s.matchLower(low) {
					return true
				}
				continue
			}
		}
		if s.match(e) {
			return true
		}
	}
	return false
}

type regexSet []*checkedRegex

func (s regexSet) match(e *ecs.Value) bool {
	str, ok := textOf(e)
	if !ok {
		return false
	}
	for _, re := range s {
		if re.matchString(str) {
			return true
		}
	}
	return false
}

func (c *compiler) match(e *matchExpr) (ecs.Predicate, error) {
	fold := e.op != "like" && e.op != "regex"
	if e.op == "regex" || e.op == "regex~" {
		if e.regexes != nil {
			// Compiled for this query already: the compilation for a
			// shape reuses them (and never writes the node, which other
			// goroutines may read).
			return c.anyOf(e.x, regexSet(e.regexes).match)
		}
		res := make(regexSet, 0, len(e.patterns))
		for i, src := range e.patterns {
			re, err := compileCheckedRegex(src, fold)
			if err != nil {
				return nil, syntaxErr(e.patPos[i], "bad regular expression %q: %v", src, err)
			}
			res = append(res, re)
		}
		if c.shape == nil {
			e.regexes = res
		}
		return c.anyOf(e.x, res.match)
	}
	set := &patternSet{fold: fold, lits: map[string]struct{}{}}
	for _, src := range e.patterns {
		if !glob.HasWildcard(src, true) {
			if fold {
				src = strings.ToLower(src)
			}
			set.lits[src] = struct{}{}
			set.litsIn.add(src)
			continue
		}
		if fold {
			set.foldGlobs = append(set.foldGlobs, glob.Compile(src, glob.Options{Single: true, Fold: true}))
			src = strings.ToLower(src)
		}
		g := glob.Compile(src, glob.Options{Single: true})
		set.globs = append(set.globs, g)
		set.globsIn.add(globEndOf(g))
	}
	if f, ok := e.x.(*fieldExpr); ok && fold {
		// A field's text is lowered once per event for every rule that
		// folds it (ecs.Event.LowerASCII), not once per rule.
		id, err := c.fieldID(f.name, f.p)
		if err != nil {
			return nil, err
		}
		return func(ev *ecs.Event) bool { return set.matchIn(ev, ev.Ref(id)) }, nil
	}
	return c.anyOf(e.x, set.match)
}

// OptionalFields returns the fields the query reads as ?field (fields
// that may be missing from the mapping), sorted.
func (q *Query) OptionalFields() []string {
	seen := map[string]bool{}
	var walk func(e expr)
	walk = func(e expr) {
		switch e := e.(type) {
		case *andExpr:
			walk(e.l)
			walk(e.r)
		case *orExpr:
			walk(e.l)
			walk(e.r)
		case *notExpr:
			walk(e.x)
		case *cmpExpr:
			walk(e.l)
			walk(e.r)
		case *inExpr:
			walk(e.x)
			for _, x := range e.list {
				walk(x)
			}
		case *matchExpr:
			walk(e.x)
		case *callExpr:
			for _, x := range e.args {
				walk(x)
			}
		case *arithExpr:
			walk(e.l)
			walk(e.r)
		case *negExpr:
			walk(e.x)
		case *fieldExpr:
			if e.optional {
				seen[e.name] = true
			}
		}
	}
	for _, f := range q.filters {
		walk(f.cond)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Literal is a constant the query compares a field with, for checking it
// against the field's type.
type Literal struct {
	Field string
	// Kind is ecs.String, ecs.Int, ecs.Float or ecs.Bool; CIDR marks the
	// blocks of cidrMatch.
	Kind ecs.Kind
	CIDR bool
	Text string
}

// Literals lists the constants the query compares fields with: ==, !=,
// <, <=, >, >= and in against a field, and cidrMatch's field.
func (q *Query) Literals() []Literal {
	var out []Literal
	lit := func(field, other expr) {
		f, ok := field.(*fieldExpr)
		l, isLit := other.(*litExpr)
		if !ok || !isLit || l.v.Kind == ecs.Null {
			return
		}
		text, _ := l.v.Text()
		out = append(out, Literal{Field: f.name, Kind: l.v.Kind, Text: text})
	}
	var walk func(e expr)
	walk = func(e expr) {
		switch e := e.(type) {
		case *andExpr:
			walk(e.l)
			walk(e.r)
		case *orExpr:
			walk(e.l)
			walk(e.r)
		case *notExpr:
			walk(e.x)
		case *cmpExpr:
			lit(e.l, e.r)
			lit(e.r, e.l)
		case *inExpr:
			for _, x := range e.list {
				lit(e.x, x)
			}
		case *callExpr:
			if f, ok := firstField(e); ok && e.name == "cidrmatch" {
				out = append(out, Literal{Field: f, CIDR: true, Kind: ecs.String})
			}
		}
	}
	for _, f := range q.filters {
		walk(f.cond)
	}
	return out
}

func firstField(e *callExpr) (string, bool) {
	if len(e.args) == 0 {
		return "", false
	}
	f, ok := e.args[0].(*fieldExpr)
	if !ok {
		return "", false
	}
	return f.name, true
}
