package eql

import (
	"math/bits"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// checkedRegex is a compiled regex with a cheap test of conditions every
// matching value meets, run before the regexp itself.
type checkedRegex struct {
	re  *regexp.Regexp
	pre regexPrecheck
}

// compileCheckedRegex compiles the Lucene regular expression src (see
// translateRegex) and derives its precheck.
func compileCheckedRegex(src string, fold bool) (*checkedRegex, error) {
	// The body must parse on its own: an unbalanced ")" would otherwise
	// close the anchoring group and leave the rest unanchored.
	if _, err := syntax.Parse(regexBody(src), syntax.Perl); err != nil {
		return nil, err
	}
	expr := translateRegex(src, fold)
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &checkedRegex{re: re, pre: precheckOf(expr)}, nil
}

// matchString reports whether the regexp matches s, skipping the regexp
// when s fails the precheck.
func (r *checkedRegex) matchString(s string) bool {
	return r.pre.mayMatch(s) && r.re.MatchString(s)
}

// Limits that keep the precheck cheap to run and to derive.
const (
	maxPrecheckSubs   = 4  // required substrings tested per value
	maxPrecheckSets   = 2  // required byte classes tested per value
	maxInfoStrings    = 16 // known substrings kept per syntax node
	maxInfoStringSize = 64 // bytes kept of a known prefix or suffix
	maxOrder          = 32 // byte classes kept of a node's ordered bytes
)

// regexPrecheck holds necessary conditions for a value to match a regexp:
// a value failing any of them cannot match, one passing them all may.
//
// When fold is set, prefix, suffix and subs are lower-case ASCII-folded
// and compared ignoring ASCII case; a case-sensitive condition compared
// that way is weaker but still necessary.
type regexPrecheck struct {
	minLen, maxLen int // value length bounds in bytes; maxLen < 0 is unbounded
	fold           bool
	prefix, suffix string    // the value starts and ends with these
	subs           []string  // the value contains each of these
	sets           []byteSet // the value contains a byte of each of these
	// order: the value holds a byte of each of these, in this order (each
	// after the last); kept when it states more than one.
	order []byteSet
	// A non-empty value starts with a byte of first and ends with one of
	// last when checkFirst and checkLast are set.
	checkFirst, checkLast bool
	first, last           byteSet
}

// trivial reports whether the precheck accepts every value.
func (p *regexPrecheck) trivial() bool {
	return p.minLen == 0 && p.maxLen < 0 && p.prefix == "" && p.suffix == "" && len(p.subs) == 0 && len(p.sets) == 0 &&
		len(p.order) == 0 && !p.checkFirst && !p.checkLast
}

// mayMatch reports whether s meets every condition. It does not allocate.
func (p *regexPrecheck) mayMatch(s string) bool {
	if len(s) < p.minLen || (p.maxLen >= 0 && len(s) > p.maxLen) {
		return false
	}
	if len(s) > 0 && ((p.checkFirst && !p.first.has(s[0])) || (p.checkLast && !p.last.has(s[len(s)-1]))) {
		return false
	}
	if p.fold {
		if !hasPrefixFoldASCII(s, p.prefix) || !hasSuffixFoldASCII(s, p.suffix) {
			return false
		}
		for _, sub := range p.subs {
			if !containsFoldASCII(s, sub) {
				return false
			}
		}
	} else {
		if !strings.HasPrefix(s, p.prefix) || !strings.HasSuffix(s, p.suffix) {
			return false
		}
		for _, sub := range p.subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
	}
	for i := range p.sets {
		if !p.sets[i].occursIn(s) {
			return false
		}
	}
	return p.inOrder(s)
}

// inOrder reports whether s holds a byte of each of p.order in that
// order. Taking each class's first byte after the last one found is never
// worse than a later one, so one pass settles it.
func (p *regexPrecheck) inOrder(s string) bool {
	k := 0
	for i := 0; i < len(s) && k < len(p.order); i++ {
		if p.order[k].has(s[i]) {
			k++
		}
	}
	return k == len(p.order)
}

// maxByteKeys bounds the one-byte keys prefilter makes of the bytes a
// value can end (or start) with.
const maxByteKeys = 8

// prefilter returns a necessary condition of p that an index can key
// (see ecs.Prefilter), the most selective it states: a known prefix or
// suffix of four bytes or more, else a required inner text of three or
// more, else a known prefix or suffix of two or three, else, for a value
// that cannot be empty, the few bytes it can end or start with. Keys are
// ASCII, compared ignoring case when p is. ok is false when p states
// nothing as selective.
func (p *regexPrecheck) prefilter(field string) (ecs.Prefilter, bool) {
	out := ecs.Prefilter{Field: field, Fold: p.fold}
	usable := func(s string, n int) bool { return len(s) >= n && isASCII(s) }
	longestSub := ""
	for _, s := range p.subs {
		if usable(s, ecs.MinContainsKey) && len(s) > len(longestSub) {
			longestSub = s
		}
	}
	switch {
	case usable(p.prefix, ecs.MinAnchoredKey) && len(p.prefix) >= len(p.suffix):
		out.Prefixes = []string{p.prefix}
	case usable(p.suffix, ecs.MinAnchoredKey):
		out.Suffixes = []string{p.suffix}
	case longestSub != "":
		out.Contains = []string{longestSub}
	case usable(p.prefix, 2) && len(p.prefix) >= len(p.suffix):
		out.Prefixes = []string{p.prefix}
	case usable(p.suffix, 2):
		out.Suffixes = []string{p.suffix}
	case p.minLen > 0 && p.checkLast && p.last.count() <= maxByteKeys:
		// The set holds every byte a match can end with, case variants
		// included: the keys compare as they are.
		out.Fold, out.Suffixes = false, p.last.strings()
	case p.minLen > 0 && p.checkFirst && p.first.count() <= maxByteKeys:
		out.Fold, out.Prefixes = false, p.first.strings()
	default:
		return out, false
	}
	return out, true
}

// precheckOf derives the precheck of the RE2 expression expr, as produced
// by translateRegex. An expression that does not parse gets the trivial
// precheck.
func precheckOf(expr string) regexPrecheck {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return regexPrecheck{maxLen: -1}
	}
	re = re.Simplify()
	a := analyzer{fold: hasFoldedLiteral(re)}
	top := a.info(re)
	p := regexPrecheck{minLen: top.minLen, maxLen: -1, fold: a.fold}
	known := top.strings()
	if isWholeValue(re) {
		// The match is the value itself.
		p.maxLen = top.maxLen
		p.prefix, p.suffix = top.knownPrefix(), top.knownSuffix()
		if top.exact {
			p.suffix = ""
		}
		// A known prefix or suffix already fixes the end bytes.
		p.first, p.checkFirst = top.first, top.first != allBytes && p.prefix == ""
		p.last, p.checkLast = top.last, top.last != allBytes && p.suffix == "" && !top.exact
	}
	p.subs = pickSubs(known, p.prefix, p.suffix)
	p.sets = pickSets(top.sets, known, a.fold)
	if len(top.order) > 1 {
		p.order = top.order
	}
	return p
}

// isWholeValue reports whether every match of re spans the whole input:
// re is a concatenation from \A to \z.
func isWholeValue(re *syntax.Regexp) bool {
	return re.Op == syntax.OpConcat && len(re.Sub) >= 2 &&
		re.Sub[0].Op == syntax.OpBeginText && re.Sub[len(re.Sub)-1].Op == syntax.OpEndText
}

// hasFoldedLiteral reports whether re has a case-folded literal, which
// makes the whole precheck compare ignoring ASCII case.
func hasFoldedLiteral(re *syntax.Regexp) bool {
	if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase != 0 {
		return true
	}
	for _, sub := range re.Sub {
		if hasFoldedLiteral(sub) {
			return true
		}
	}
	return false
}

// nodeInfo over-approximates the matches of a syntax node: every string
// the node can match has the properties it records.
type nodeInfo struct {
	// exact: the node matches only lit (up to ASCII case under fold).
	exact bool
	lit   string
	// prefix and suffix start and end every match (when not exact).
	prefix, suffix string
	// subs occur in every match.
	subs []string
	// sets: every match has a byte of each.
	sets []byteSet
	// first and last hold the first and last bytes of every non-empty
	// match.
	first, last    byteSet
	minLen, maxLen int // maxLen < 0 is unbounded
	// order: every match holds a byte of each of these, in this order.
	order []byteSet
}

// exactInfo describes a node matching only lit, whose first and last
// bytes are first and last.
func exactInfo(lit string, first, last byteSet) nodeInfo {
	return nodeInfo{exact: true, lit: lit, first: first, last: last, minLen: len(lit), maxLen: len(lit)}
}

// emptyInfo describes a node matching at most the empty string.
func emptyInfo() nodeInfo { return exactInfo("", byteSet{}, byteSet{}) }

// anyRuneInfo describes a node matching one rune of any bytes.
func anyRuneInfo() nodeInfo {
	return nodeInfo{first: allBytes, last: allBytes, minLen: 1, maxLen: utf8.UTFMax}
}

// unknownInfo describes a node about which nothing is known.
func unknownInfo() nodeInfo { return nodeInfo{first: allBytes, last: allBytes, maxLen: -1} }

func (n *nodeInfo) knownPrefix() string {
	if n.exact {
		return n.lit
	}
	return n.prefix
}

func (n *nodeInfo) knownSuffix() string {
	if n.exact {
		return n.lit
	}
	return n.suffix
}

// strings returns every non-empty string each match contains.
func (n *nodeInfo) strings() []string {
	var out []string
	for _, s := range append([]string{n.knownPrefix(), n.knownSuffix()}, n.subs...) {
		if s != "" {
			out = append(out, s)
		}
	}
	return dedupStrings(out)
}

// analyzer derives nodeInfo for syntax nodes. Under fold, literal text is
// kept lower-case.
type analyzer struct {
	fold bool
}

func (a *analyzer) info(re *syntax.Regexp) nodeInfo {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		// Each matches at most the empty string.
		return emptyInfo()
	case syntax.OpLiteral:
		out := emptyInfo()
		for _, r := range re.Rune {
			out = concatInfo(out, a.runeInfo(r, re.Flags&syntax.FoldCase != 0))
		}
		return out
	case syntax.OpCharClass:
		return classInfo(re.Rune)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return anyRuneInfo()
	case syntax.OpCapture:
		return a.info(re.Sub[0])
	case syntax.OpStar:
		return optionalInfo(a.info(re.Sub[0]), -1)
	case syntax.OpQuest:
		sub := a.info(re.Sub[0])
		return optionalInfo(sub, sub.maxLen)
	case syntax.OpPlus:
		return repeatInfo(a.info(re.Sub[0]), 1, -1)
	case syntax.OpRepeat:
		if re.Min < 1 {
			return optionalInfo(a.info(re.Sub[0]), -1)
		}
		return repeatInfo(a.info(re.Sub[0]), re.Min, re.Max)
	case syntax.OpConcat:
		out := emptyInfo()
		for _, sub := range re.Sub {
			out = concatInfo(out, a.info(sub))
		}
		return out
	case syntax.OpAlternate:
		out := a.info(re.Sub[0])
		for _, sub := range re.Sub[1:] {
			out = alternateInfo(out, a.info(sub), a.fold)
		}
		return out
	}
	// OpNoMatch and anything unforeseen.
	return unknownInfo()
}

// runeInfo describes a literal rune, case-folded when fold is set.
func (a *analyzer) runeInfo(r rune, fold bool) nodeInfo {
	if r == utf8.RuneError {
		// Also matches any invalid byte.
		return anyRuneInfo()
	}
	orbit := []rune{r}
	if fold {
		orbit = foldOrbit(r)
	}
	if len(orbit) > 1 && !isASCIIOrbit(orbit) {
		// Some case variant lies outside ASCII (like K and the Kelvin
		// sign): only the bytes at the ends of the variants are known.
		out := nodeInfo{minLen: 1}
		for _, v := range orbit {
			enc := string(v)
			out.first.add(enc[0])
			out.last.add(enc[len(enc)-1])
			out.maxLen = max(out.maxLen, len(enc))
		}
		out.sets = []byteSet{out.first}
		out.order = out.sets
		return out
	}
	if a.fold && 'A' <= r && r <= 'Z' {
		r += 'a' - 'A'
	}
	enc := string(r)
	out := exactInfo(enc, a.byteSetOf(enc[0]), a.byteSetOf(enc[len(enc)-1]))
	for i := 0; i < len(enc); i++ {
		out.order = append(out.order, a.byteSetOf(enc[i]))
	}
	return out
}

// byteSetOf is the set of bytes that match the literal text byte c.
func (a *analyzer) byteSetOf(c byte) byteSet { return stringByteSet(c, a.fold) }

// foldOrbit returns r and its case variants.
func foldOrbit(r rune) []rune {
	orbit := []rune{r}
	for v := unicode.SimpleFold(r); v != r; v = unicode.SimpleFold(v) {
		orbit = append(orbit, v)
	}
	return orbit
}

func isASCIIOrbit(orbit []rune) bool {
	for _, v := range orbit {
		if v >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// classInfo describes a character class given as rune range pairs. Only
// an all-ASCII class yields a byte set; any other is one unknown rune.
func classInfo(ranges []rune) nodeInfo {
	var set byteSet
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if hi >= utf8.RuneSelf {
			return anyRuneInfo()
		}
		for c := lo; c <= hi; c++ {
			set.add(byte(c))
		}
	}
	if set.count() == 0 {
		// An empty class matches nothing.
		return unknownInfo()
	}
	return nodeInfo{sets: []byteSet{set}, order: []byteSet{set}, first: set, last: set, minLen: 1, maxLen: 1}
}

// optionalInfo describes zero or more repetitions of a node matching sub,
// matching at most maxLen bytes (< 0: unbounded).
func optionalInfo(sub nodeInfo, maxLen int) nodeInfo {
	return nodeInfo{first: sub.first, last: sub.last, maxLen: maxLen}
}

// repeatInfo describes min to max (max < 0: unbounded) repetitions of a
// node matching sub, min >= 1.
func repeatInfo(sub nodeInfo, min, max int) nodeInfo {
	out := nodeInfo{
		prefix: sub.knownPrefix(),
		suffix: sub.knownSuffix(),
		subs:   sub.strings(),
		sets:   sub.sets,
		first:  sub.first,
		last:   sub.last,
		minLen: sub.minLen * min,
		maxLen: -1,
	}
	if max >= 0 && sub.maxLen >= 0 {
		out.maxLen = sub.maxLen * max
	}
	// One repetition's order holds; the next ones' add little.
	out.order = sub.order
	if sub.exact && min == max {
		exact := exactInfo(strings.Repeat(sub.lit, min), sub.first, sub.last)
		exact.order = sub.order
		return exact
	}
	return out.trimmed()
}

// concatInfo describes a node matching a then b.
func concatInfo(a, b nodeInfo) nodeInfo {
	minLen, maxLen := a.minLen+b.minLen, -1
	if a.maxLen >= 0 && b.maxLen >= 0 {
		maxLen = a.maxLen + b.maxLen
	}
	first, last := a.first, b.last
	if a.minLen == 0 {
		first.union(b.first)
	}
	if b.minLen == 0 {
		last.union(a.last)
	}
	order := concatOrder(a.order, b.order)
	if a.exact && b.exact {
		out := exactInfo(a.lit+b.lit, first, last)
		out.order = order
		return out
	}
	out := nodeInfo{first: first, last: last, minLen: minLen, maxLen: maxLen, order: order}
	out.prefix = a.prefix
	if a.exact {
		out.prefix = a.lit + b.prefix
	}
	out.suffix = b.suffix
	if b.exact {
		out.suffix = a.suffix + b.lit
	}
	out.subs = append(append(append([]string{}, a.subs...), b.subs...), a.knownSuffix()+b.knownPrefix())
	out.sets = append(append([]byteSet{}, a.sets...), b.sets...)
	return out.trimmed()
}

// concatOrder is the order of a node matching a then b: a's classes,
// then b's, up to maxOrder (dropping classes keeps the order a necessary
// condition). The result shares no array with a or b.
func concatOrder(a, b []byteSet) []byteSet {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]byteSet, 0, min(len(a)+len(b), maxOrder))
	out = append(out, a[:min(len(a), maxOrder)]...)
	return append(out, b[:min(len(b), maxOrder-len(out))]...)
}

// alternateInfo describes a node matching a or b: only what both share.
func alternateInfo(a, b nodeInfo, fold bool) nodeInfo {
	out := nodeInfo{first: a.first, last: a.last, minLen: min(a.minLen, b.minLen), maxLen: -1}
	out.first.union(b.first)
	out.last.union(b.last)
	if a.maxLen >= 0 && b.maxLen >= 0 {
		out.maxLen = max(a.maxLen, b.maxLen)
	}
	if a.exact && b.exact && a.lit == b.lit {
		out.exact, out.lit, out.order = true, a.lit, a.order
		return out
	}
	out.prefix = commonPrefix(a.knownPrefix(), b.knownPrefix())
	out.suffix = commonSuffix(a.knownSuffix(), b.knownSuffix())
	as, bs := a.strings(), b.strings()
	out.subs = append(sharedStrings(as, bs), sharedStrings(bs, as)...)
	// A match of either side has a byte of that side's narrowest class.
	if sa, ok := narrowestSet(a.sets, as, fold); ok {
		if sb, ok := narrowestSet(b.sets, bs, fold); ok {
			sa.union(sb)
			out.sets = []byteSet{sa}
		}
	}
	return out.trimmed()
}

// trimmed bounds the strings kept so that deriving stays cheap; dropping
// a condition is always safe.
func (n nodeInfo) trimmed() nodeInfo {
	if len(n.prefix) > maxInfoStringSize {
		n.prefix = n.prefix[:maxInfoStringSize]
	}
	if len(n.suffix) > maxInfoStringSize {
		n.suffix = n.suffix[len(n.suffix)-maxInfoStringSize:]
	}
	n.subs = longestFirst(dropContained(dedupStrings(n.subs)))
	if len(n.subs) > maxInfoStrings {
		n.subs = n.subs[:maxInfoStrings]
	}
	if len(n.sets) > maxInfoStrings {
		n.sets = narrowestFirst(n.sets)[:maxInfoStrings]
	}
	return n
}

// sharedStrings returns the strings of xs found inside some string of ys.
func sharedStrings(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		for _, y := range ys {
			if strings.Contains(y, x) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// narrowestSet returns the smallest byte set of which every match has a
// byte, from sets and the first bytes of the required strings.
func narrowestSet(sets []byteSet, strs []string, fold bool) (byteSet, bool) {
	var best byteSet
	found := false
	consider := func(s byteSet) {
		if !found || s.count() < best.count() {
			best, found = s, true
		}
	}
	for _, s := range sets {
		consider(s)
	}
	for _, s := range strs {
		consider(stringByteSet(s[0], fold))
	}
	return best, found
}

// stringByteSet is the set of bytes that match the string byte c.
func stringByteSet(c byte, fold bool) byteSet {
	var s byteSet
	s.add(c)
	if fold && 'a' <= c && c <= 'z' {
		s.add(c - ('a' - 'A'))
	}
	return s
}

// pickSubs chooses the substrings to test: the longest ones not already
// implied by another test.
func pickSubs(known []string, prefix, suffix string) []string {
	var out []string
	for _, s := range longestFirst(dropContained(known)) {
		if strings.Contains(prefix, s) || strings.Contains(suffix, s) {
			continue
		}
		out = append(out, s)
		if len(out) == maxPrecheckSubs {
			break
		}
	}
	return out
}

// pickSets chooses the byte sets to test: the narrowest ones not implied
// by a required string or by a narrower set.
func pickSets(sets []byteSet, known []string, fold bool) []byteSet {
	var out []byteSet
next:
	for _, s := range narrowestFirst(sets) {
		for _, str := range known {
			for i := 0; i < len(str); i++ {
				if s.contains(stringByteSet(str[i], fold)) {
					continue next
				}
			}
		}
		for _, o := range out {
			if s.contains(o) {
				continue next
			}
		}
		out = append(out, s)
		if len(out) == maxPrecheckSets {
			break
		}
	}
	return out
}

func dedupStrings(strs []string) []string {
	seen := map[string]bool{}
	out := strs[:0:0]
	for _, s := range strs {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// dropContained removes the strings found inside another of strs, which
// must be distinct.
func dropContained(strs []string) []string {
	var out []string
	for i, s := range strs {
		inside := false
		for j, o := range strs {
			if i != j && len(o) > len(s) && strings.Contains(o, s) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, s)
		}
	}
	return out
}

func longestFirst(strs []string) []string {
	sort.SliceStable(strs, func(i, j int) bool { return len(strs[i]) > len(strs[j]) })
	return strs
}

func narrowestFirst(sets []byteSet) []byteSet {
	sets = append([]byteSet{}, sets...)
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].count() < sets[j].count() })
	return sets
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

func commonSuffix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return a[len(a)-n:]
}

// byteSet is a set of byte values.
type byteSet [4]uint64

// allBytes holds every byte.
var allBytes = byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) union(o byteSet) {
	s[0], s[1], s[2], s[3] = s[0]|o[0], s[1]|o[1], s[2]|o[2], s[3]|o[3]
}
func (s *byteSet) contains(o byteSet) bool {
	return o[0]&^s[0] == 0 && o[1]&^s[1] == 0 && o[2]&^s[2] == 0 && o[3]&^s[3] == 0
}

// strings returns each byte of s as a one-byte string, in byte order.
func (s *byteSet) strings() []string {
	var out []string
	for c := 0; c < 256; c++ {
		if s.has(byte(c)) {
			out = append(out, string([]byte{byte(c)}))
		}
	}
	return out
}

func (s *byteSet) count() int {
	return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) + bits.OnesCount64(s[2]) + bits.OnesCount64(s[3])
}

// occursIn reports whether a byte of str is in the set.
func (s *byteSet) occursIn(str string) bool {
	for i := 0; i < len(str); i++ {
		if s.has(str[i]) {
			return true
		}
	}
	return false
}

// lowerASCII maps A-Z to a-z and leaves every other byte alone.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// hasPrefixFoldASCII reports whether s starts with the lower-case prefix,
// ignoring ASCII case.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// hasSuffixFoldASCII reports whether s ends with the lower-case suffix,
// ignoring ASCII case.
func hasSuffixFoldASCII(s, suffix string) bool {
	return len(s) >= len(suffix) && hasPrefixFoldASCII(s[len(s)-len(suffix):], suffix)
}

// containsFoldASCII reports whether s contains the lower-case sub,
// ignoring ASCII case. It jumps between occurrences of sub's first
// non-letter byte when it has one.
func containsFoldASCII(s, sub string) bool {
	anchor := -1
	for i := 0; i < len(sub); i++ {
		if c := sub[i]; c < 'a' || c > 'z' {
			anchor = i
			break
		}
	}
	if anchor < 0 {
		for i := 0; i+len(sub) <= len(s); i++ {
			if hasPrefixFoldASCII(s[i:], sub) {
				return true
			}
		}
		return false
	}
	for from := anchor; from < len(s); {
		j := strings.IndexByte(s[from:], sub[anchor])
		if j < 0 {
			return false
		}
		start := from + j - anchor
		if start+len(sub) > len(s) {
			return false
		}
		if hasPrefixFoldASCII(s[start:], sub) {
			return true
		}
		from += j + 1
	}
	return false
}
