package kql

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/glob"
)

// node is one compiled part of a query.
type node interface {
	match(e *ecs.Event) bool
	// cost is a rough price of evaluating the node; and/or evaluate their
	// cheaper children first.
	cost() int
	write(b *strings.Builder, indent int)
}

type andNode struct{ kids []node }

func (n *andNode) match(e *ecs.Event) bool {
	for _, k := range n.kids {
		if !k.match(e) {
			return false
		}
	}
	return true
}

func (n *andNode) cost() int { return sumCost(n.kids) }

type orNode struct{ kids []node }

func (n *orNode) match(e *ecs.Event) bool {
	for _, k := range n.kids {
		if k.match(e) {
			return true
		}
	}
	return false
}

func (n *orNode) cost() int { return sumCost(n.kids) }

type notNode struct{ kid node }

func (n *notNode) match(e *ecs.Event) bool { return !n.kid.match(e) }
func (n *notNode) cost() int               { return n.kid.cost() }

func sumCost(kids []node) int {
	c := 0
	for _, k := range kids {
		c += k.cost()
	}
	return c
}

type termKind uint8

const (
	termExists  termKind = iota // field:*
	termLiteral                 // exact value
	termPattern                 // unquoted value with '*'
)

// term is one value of a field query.
type term struct {
	kind   termKind
	text   string // the literal, or the glob source of a pattern
	quoted bool
}

func literalTerm(text string, quoted bool) term {
	return term{kind: termLiteral, text: text, quoted: quoted}
}

// wordTerm makes the term of an unquoted value; pat is its glob source.
func wordTerm(text, pat string, wild bool) term {
	switch {
	case !wild:
		return term{kind: termLiteral, text: text}
	case strings.Trim(pat, "*") == "":
		return term{kind: termExists, text: "*"}
	}
	return term{kind: termPattern, text: pat}
}

// termNode is true when some element of the field's value matches some of
// its terms: "field:(a or b)" on an array is one termNode, since "some
// element matches a or b" is "some element matches a, or some matches b".
type termNode struct {
	f     fieldRef
	terms []term
	m     matcher
}

func newTerm(f fieldRef, t term) *termNode { return &termNode{f: f, terms: []term{t}} }

func (n *termNode) match(e *ecs.Event) bool {
	v := e.Ref(n.f.id)
	if v == nil {
		return false
	}
	elems := v.Elems()
	for i := range elems {
		if n.m.elem(&elems[i]) {
			return true
		}
	}
	return false
}

func (n *termNode) cost() int {
	c, lits := 0, 0
	for _, t := range n.terms {
		switch t.kind {
		case termExists:
			c++
		case termLiteral:
			lits++
		case termPattern:
			c += 3
		}
	}
	if lits > 0 {
		c += 2
		if lits > smallSet {
			c++
		}
	}
	if n.f.ip {
		c += 2
	}
	return c
}

// smallSet is how many literals are compared one by one before a map
// lookup pays off.
const smallSet = 6

// matcher tests one element against the terms of a termNode, all decided
// at compile time.
type matcher struct {
	exists     bool
	strs       []string
	strSet     map[string]struct{}
	nums       []float64
	matchTrue  bool
	matchFalse bool
	addrs      []netip.Addr
	prefixes   []netip.Prefix
	// Patterns of the common shapes are kept as plain strings and tested
	// inline; the rest go through glob.
	hasPrefix   []string // "lit*"
	hasSuffix   []string // "*lit"
	hasInfix    []string // "*lit*"
	pats        []*glob.Pattern
	anyPatterns bool
}

// build compiles the terms. On an ip field a literal that is an address
// compares as an address and a CIDR literal matches the addresses it holds.
// A literal that is a number also matches numeric elements equal to it, and
// "true"/"false" match boolean elements.
func (m *matcher) build(f fieldRef, terms []term) {
	*m = matcher{}
	seen := map[string]bool{}
	for _, t := range terms {
		switch t.kind {
		case termExists:
			m.exists = true
		case termPattern:
			m.anyPatterns = true
			switch shape, lit := globShape(t.text); shape {
			case shapePrefix:
				m.hasPrefix = append(m.hasPrefix, lit)
			case shapeSuffix:
				m.hasSuffix = append(m.hasSuffix, lit)
			case shapeInfix:
				m.hasInfix = append(m.hasInfix, lit)
			default:
				m.pats = append(m.pats, glob.Compile(t.text, glob.Options{Escape: true}))
			}
		case termLiteral:
			if seen[t.text] {
				continue
			}
			seen[t.text] = true
			m.strs = append(m.strs, t.text)
			if x, ok := parseNumber(t.text); ok {
				m.nums = append(m.nums, x)
			}
			switch t.text {
			case "true":
				m.matchTrue = true
			case "false":
				m.matchFalse = true
			}
			if f.ip {
				if pf, ok := parseCIDR(t.text); ok {
					m.prefixes = append(m.prefixes, pf)
				} else if a, err := netip.ParseAddr(t.text); err == nil {
					m.addrs = append(m.addrs, a.Unmap())
				}
			}
		}
	}
	if len(m.strs) > smallSet {
		m.strSet = make(map[string]struct{}, len(m.strs))
		for _, s := range m.strs {
			m.strSet[s] = struct{}{}
		}
	}
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, false
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a := pf.Addr(); a.Is4In6() && pf.Bits() >= 96 {
		pf = netip.PrefixFrom(a.Unmap(), pf.Bits()-96)
	}
	return pf.Masked(), true
}

func (m *matcher) elem(x *ecs.Value) bool {
	switch x.Kind {
	case ecs.String:
		return m.str(x.Str)
	case ecs.Int, ecs.Float:
		if m.exists {
			return true
		}
		f := x.Float()
		for _, n := range m.nums {
			if n == f {
				return true
			}
		}
		if m.anyPatterns {
			var buf [40]byte
			var b []byte
			if x.Kind == ecs.Int {
				b = strconv.AppendInt(buf[:0], x.Int(), 10)
			} else {
				b = strconv.AppendFloat(buf[:0], f, 'f', -1, 64)
			}
			return m.pattern(unsafe.String(unsafe.SliceData(b), len(b)))
		}
	case ecs.Bool:
		if m.exists {
			return true
		}
		if x.Bool() {
			return m.matchTrue || m.pattern("true")
		}
		return m.matchFalse || m.pattern("false")
	}
	return false
}

func (m *matcher) str(s string) bool {
	if m.exists {
		return true
	}
	if m.strSet != nil {
		if _, ok := m.strSet[s]; ok {
			return true
		}
	} else {
		for _, lit := range m.strs {
			if lit == s {
				return true
			}
		}
	}
	if len(m.addrs) > 0 || len(m.prefixes) > 0 {
		if a, ok := parseIP(s); ok {
			for _, want := range m.addrs {
				if a == want {
					return true
				}
			}
			for _, pf := range m.prefixes {
				if pf.Contains(a) {
					return true
				}
			}
		}
	}
	return m.pattern(s)
}

func (m *matcher) pattern(s string) bool {
	if !m.anyPatterns {
		return false
	}
	for _, p := range m.hasPrefix {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	for _, p := range m.hasSuffix {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	for _, p := range m.hasInfix {
		if strings.Contains(s, p) {
			return true
		}
	}
	for _, p := range m.pats {
		if p.Match(s) {
			return true
		}
	}
	return false
}

type shape uint8

const (
	shapeOther shape = iota
	shapePrefix
	shapeSuffix
	shapeInfix
)

// globShape recognizes the pattern sources "lit*", "*lit" and "*lit*" (with
// \* and \\ escapes in lit) and returns the unescaped lit.
func globShape(src string) (shape, string) {
	var lit strings.Builder
	var stars []int // positions of stars among the pattern's pieces
	pieces := 0
	inLit := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			i++
			lit.WriteByte(src[i])
			if !inLit {
				pieces++
				inLit = true
			}
		case c == '*':
			if inLit || len(stars) == 0 || stars[len(stars)-1] != pieces-1 {
				stars = append(stars, pieces)
				pieces++
			}
			inLit = false
		default:
			lit.WriteByte(c)
			if !inLit {
				pieces++
				inLit = true
			}
		}
	}
	switch {
	case pieces == 2 && len(stars) == 1 && stars[0] == 1:
		return shapePrefix, lit.String()
	case pieces == 2 && len(stars) == 1 && stars[0] == 0:
		return shapeSuffix, lit.String()
	case pieces == 3 && len(stars) == 2 && stars[0] == 0 && stars[1] == 2:
		return shapeInfix, lit.String()
	}
	return shapeOther, ""
}

// parseIP parses an address without allocating on the common paths: text
// that cannot be an address is refused before netip sees it.
func parseIP(s string) (netip.Addr, bool) {
	if len(s) < 2 || len(s) > 45 {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseNumber parses a plain decimal number ("42", "-1.5", "1e3"). Other
// text is refused up front, so parsing a non-number never allocates an error.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 || exp > 3 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// rangeNode is "field <op> bound". Numbers (and strings that are numbers)
// compare numerically with a numeric bound; otherwise values compare as
// strings, byte by byte, which orders ISO-8601 timestamps of one format
// correctly. Booleans and nulls never match a range.
//
// Two bounds compare by what they mean instead, as on Elasticsearch's
// date and ip fields (https://www.elastic.co/guide/en/kibana/current/kuery-query.html,
// "Range queries"): a bound that is an ISO-8601 date compares with values
// that are dates (ISO-8601 text, or numbers read as epoch milliseconds, the
// default date format), and on an ip field a bound that is an address
// compares with addresses.
type rangeNode struct {
	f      fieldRef
	op     string
	bound  string
	num    float64
	isNum  bool
	date   int64 // ms, when isDate
	isDate bool
	addr   netip.Addr // when f.ip and the bound is an address
}

func newRange(f fieldRef, op, bound string) *rangeNode {
	n := &rangeNode{f: f, op: op, bound: bound}
	n.num, n.isNum = parseNumber(bound)
	if !n.isNum {
		n.date, n.isDate = parseDate(bound)
	}
	if f.ip {
		n.addr, _ = parseIP(bound)
	}
	return n
}

// parseDate reads the ISO-8601 forms Elasticsearch's default date format
// (strict_date_optional_time) accepts, as Unix milliseconds.
func parseDate(s string) (int64, bool) {
	if len(s) < 4 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func (n *rangeNode) cost() int { return 4 }

func (n *rangeNode) match(e *ecs.Event) bool {
	v := e.Ref(n.f.id)
	if v == nil {
		return false
	}
	elems := v.Elems()
	for i := range elems {
		if n.elem(&elems[i]) {
			return true
		}
	}
	return false
}

func (n *rangeNode) elem(x *ecs.Value) bool {
	if n.addr.IsValid() && x.Kind == ecs.String {
		if a, ok := parseIP(x.Str); ok && a.Is4() == n.addr.Is4() {
			return n.cmp(a.Compare(n.addr))
		}
	}
	if n.isDate {
		switch x.Kind {
		case ecs.Int, ecs.Float:
			return n.cmp(compareFloat(x.Float(), float64(n.date)))
		case ecs.String:
			if d, ok := parseDate(x.Str); ok {
				return n.cmp(compareFloat(float64(d), float64(n.date)))
			}
		}
	}
	switch x.Kind {
	case ecs.String:
		if n.isNum {
			if f, ok := parseNumber(x.Str); ok {
				return n.cmp(compareFloat(f, n.num))
			}
		}
		return n.cmp(strings.Compare(x.Str, n.bound))
	case ecs.Int, ecs.Float:
		if n.isNum {
			return n.cmp(compareFloat(x.Float(), n.num))
		}
		var buf [40]byte
		var b []byte
		if x.Kind == ecs.Int {
			b = strconv.AppendInt(buf[:0], x.Int(), 10)
		} else {
			b = strconv.AppendFloat(buf[:0], x.Float(), 'f', -1, 64)
		}
		return n.cmp(strings.Compare(unsafe.String(unsafe.SliceData(b), len(b)), n.bound))
	}
	return false
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return 2 // NaN: no relation holds
}

func (n *rangeNode) cmp(c int) bool {
	switch n.op {
	case "<":
		return c == -1
	case "<=":
		return c == -1 || c == 0
	case ">":
		return c == 1
	case ">=":
		return c == 1 || c == 0
	}
	return false
}

// simplify flattens nested and/or, removes double negation, merges the
// terms of one field under an or (and the excluded terms of one field under
// an and) into a single lookup, and orders the
// children of and/or cheapest first. All of this keeps the meaning: and/or
// have no side effects, and "some element matches a" or "some element
// matches b" is "some element matches a or b".
func simplify(n node) node {
	switch n := n.(type) {
	case *notNode:
		kid := simplify(n.kid)
		if inner, ok := kid.(*notNode); ok {
			return inner.kid
		}
		return &notNode{kid: kid}
	case *andNode:
		// "not f:a and not f:b" is "not f:(a or b)": one pass over f.
		var kids []node
		excluded := map[ecs.Field]*termNode{}
		add := func(k node) {
			if nt, ok := k.(*notNode); ok {
				if t, ok := nt.kid.(*termNode); ok {
					if prev := excluded[t.f.id]; prev != nil {
						prev.terms = append(prev.terms, t.terms...)
						return
					}
					merged := &termNode{f: t.f, terms: append([]term(nil), t.terms...)}
					excluded[t.f.id] = merged
					kids = append(kids, &notNode{kid: merged})
					return
				}
			}
			kids = append(kids, k)
		}
		for _, k := range n.kids {
			k = simplify(k)
			if a, ok := k.(*andNode); ok {
				for _, kk := range a.kids {
					add(kk)
				}
			} else {
				add(k)
			}
		}
		return ordered(kids, func(k []node) node { return &andNode{kids: k} })
	case *orNode:
		var kids []node
		byField := map[ecs.Field]*termNode{}
		add := func(k node) {
			t, ok := k.(*termNode)
			if !ok {
				kids = append(kids, k)
				return
			}
			if prev := byField[t.f.id]; prev != nil {
				prev.terms = append(prev.terms, t.terms...)
				return
			}
			merged := &termNode{f: t.f, terms: append([]term(nil), t.terms...)}
			byField[t.f.id] = merged
			kids = append(kids, merged)
		}
		for _, k := range n.kids {
			k = simplify(k)
			if o, ok := k.(*orNode); ok {
				for _, kk := range o.kids {
					add(kk)
				}
			} else {
				add(k)
			}
		}
		return ordered(kids, func(k []node) node { return &orNode{kids: k} })
	}
	return n
}

func ordered(kids []node, mk func([]node) node) node {
	if len(kids) == 1 {
		return kids[0]
	}
	sort.SliceStable(kids, func(i, j int) bool { return rank(kids[i]) < rank(kids[j]) })
	return mk(kids)
}

// rank orders siblings: cheap first, and exclusions ("not …") after
// positive clauses of similar cost, since rules exclude rare cases and an
// exclusion seldom decides the outcome.
func rank(n node) int {
	if _, ok := n.(*notNode); ok {
		return 2 * n.cost()
	}
	return n.cost()
}

// finalize builds the matchers of every term node.
func finalize(n node) {
	switch n := n.(type) {
	case *termNode:
		n.m.build(n.f, n.terms)
	case *notNode:
		finalize(n.kid)
	case *andNode:
		for _, k := range n.kids {
			finalize(k)
		}
	case *orNode:
		for _, k := range n.kids {
			finalize(k)
		}
	}
}
