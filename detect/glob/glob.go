// Package glob matches strings against the anchored wildcard patterns of
// KQL and EQL: '*' is any run of characters, '?' (EQL only) exactly one.
//
// Patterns are compiled once into literal segments; matching never
// allocates for ASCII input, also when folding case.
package glob

import (
	"strings"
	"unicode/utf8"
)

// Options select the dialect of a pattern.
type Options struct {
	// Single makes '?' match exactly one character (EQL). Off, '?' is literal (KQL).
	Single bool
	// Fold matches case-insensitively (EQL ':' and '~' operators).
	Fold bool
	// Escape makes a backslash escape the next character, so "\*" is a
	// literal star (KQL unquoted values). Off, a backslash is literal (EQL).
	Escape bool
}

type segKind uint8

const (
	segLiteral segKind = iota
	segStar
	segOne
)

type segment struct {
	kind segKind
	lit  string // folded to lower case when Pattern.fold
	// searchable is set on a literal that does not begin with a UTF-8
	// continuation byte. A star swallows whole runes, and every byte that
	// is not a continuation byte starts a rune, so the places a star can
	// stop before such a literal are exactly the literal's occurrences,
	// which a byte search finds.
	searchable bool
}

// Pattern is a compiled wildcard pattern.
type Pattern struct {
	src  string
	fold bool
	segs []segment
	// minLen is the fewest bytes a matching input has: the literal bytes
	// and one for each '?'.
	minLen int
	// starsOnly patterns are literals and stars but none of the shapes
	// below; they are matched greedily: head is a prefix, tail a suffix
	// and each of middle is found after the one before.
	starsOnly  bool
	head, tail string
	middle     []string
	// shape fast paths
	exact, prefix, suffix, contains, any bool
	lit                                  string
}

// Compile turns src into a pattern. It never fails: every string is a valid
// pattern.
func Compile(src string, opts Options) *Pattern {
	p := &Pattern{src: src, fold: opts.Fold}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			s := lit.String()
			if opts.Fold {
				s = strings.ToLower(s)
			}
			p.segs = append(p.segs, segment{kind: segLiteral, lit: s, searchable: utf8.RuneStart(s[0])})
			p.minLen += len(s)
			lit.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case opts.Escape && c == '\\' && i+1 < len(src):
			i++
			lit.WriteByte(src[i])
		case c == '*':
			flush()
			if n := len(p.segs); n == 0 || p.segs[n-1].kind != segStar {
				p.segs = append(p.segs, segment{kind: segStar})
			}
		case c == '?' && opts.Single:
			flush()
			p.segs = append(p.segs, segment{kind: segOne})
			p.minLen++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	p.classify()
	if !(p.exact || p.any || p.prefix || p.suffix || p.contains) {
		p.splitStars()
	}
	return p
}

func (p *Pattern) classify() {
	s := p.segs
	isLit := func(i int) bool { return s[i].kind == segLiteral }
	isStar := func(i int) bool { return s[i].kind == segStar }
	switch {
	case len(s) == 0:
		p.exact, p.lit = true, ""
	case len(s) == 1 && isLit(0):
		p.exact, p.lit = true, s[0].lit
	case len(s) == 1 && isStar(0):
		p.any = true
	case len(s) == 2 && isLit(0) && isStar(1):
		p.prefix, p.lit = true, s[0].lit
	case len(s) == 2 && isStar(0) && isLit(1):
		p.suffix, p.lit = true, s[1].lit
	case len(s) == 3 && isStar(0) && isLit(1) && isStar(2):
		p.contains, p.lit = true, s[1].lit
	}
}

// splitStars fills head, middle and tail and sets starsOnly when the
// pattern is only literals and stars, and every literal after a star is
// searchable.
func (p *Pattern) splitStars() {
	segs := p.segs
	if len(segs) == 0 {
		return
	}
	for i, seg := range segs {
		if seg.kind == segOne || seg.kind == segLiteral && i > 0 && !seg.searchable {
			return
		}
	}
	if segs[0].kind == segLiteral {
		p.head = segs[0].lit
		segs = segs[1:]
	}
	if last := len(segs) - 1; last >= 0 && segs[last].kind == segLiteral {
		p.tail = segs[last].lit
		segs = segs[:last]
	}
	for _, seg := range segs {
		if seg.kind == segLiteral {
			p.middle = append(p.middle, seg.lit)
		}
	}
	p.starsOnly = true
}

// String returns the source of the pattern.
func (p *Pattern) String() string { return p.src }

// Ends returns the literal text every match starts with and the text every
// match ends with ("" where the pattern starts or ends with a wildcard), as
// the pattern compares them (lower-cased when it folds).
func (p *Pattern) Ends() (head, tail string) {
	if n := len(p.segs); n > 0 {
		if p.segs[0].kind == segLiteral {
			head = p.segs[0].lit
		}
		if p.segs[n-1].kind == segLiteral {
			tail = p.segs[n-1].lit
		}
	}
	return head, tail
}

// Literal reports whether the pattern has no wildcard, and its literal text.
func (p *Pattern) Literal() (string, bool) { return p.lit, p.exact }

// Match reports whether s matches the whole pattern.
func (p *Pattern) Match(s string) bool {
	fold := p.fold
	if fold && !isASCII(s) {
		// Lowered input holds no upper-case ASCII letter, so comparing it
		// byte for byte with the lowered literals folds case.
		s, fold = strings.ToLower(s), false
	}
	switch {
	case p.exact:
		return len(s) == len(p.lit) && hasPrefix(s, p.lit, fold)
	case p.any:
		return true
	case p.prefix:
		return hasPrefix(s, p.lit, fold)
	case p.suffix:
		return len(s) >= len(p.lit) && hasPrefix(s[len(s)-len(p.lit):], p.lit, fold)
	case p.contains:
		return index(s, p.lit, fold) >= 0
	case len(s) < p.minLen:
		return false
	case p.starsOnly:
		return p.matchStars(s, fold)
	}
	return p.match(s, fold)
}

// matchStars matches a pattern of literals and stars. The head and tail are
// fixed in place; each middle literal is taken at its leftmost place after
// the one before, which leaves the most room for the rest, so no choice is
// ever undone.
func (p *Pattern) matchStars(s string, fold bool) bool {
	if !hasPrefix(s, p.head, fold) {
		return false
	}
	s = s[len(p.head):]
	if len(s) < len(p.tail) || !hasPrefix(s[len(s)-len(p.tail):], p.tail, fold) {
		return false
	}
	s = s[:len(s)-len(p.tail)]
	for _, lit := range p.middle {
		i := index(s, lit, fold)
		if i < 0 {
			return false
		}
		s = s[i+len(lit):]
	}
	return true
}

// match is the general matcher: it advances through the segments and, on a
// mismatch, lets the most recent star swallow more. Only the last star ever
// needs to move, so matching is O(len(s)*len(pattern)). A star before a
// searchable literal moves straight to the literal's next occurrence; if
// there is none, no placement of the stars matches.
func (p *Pattern) match(s string, fold bool) bool {
	segs := p.segs
	si, pi := 0, 0
	starPi, starSi := -1, 0
	for si < len(s) || pi < len(segs) {
		if pi < len(segs) {
			switch seg := segs[pi]; seg.kind {
			case segStar:
				starPi, starSi = pi, si
				pi++
				if !p.seekAfterStar(s, &starSi, pi, fold) {
					return false
				}
				si = starSi
				continue
			case segOne:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					pi++
					continue
				}
			case segLiteral:
				if hasPrefix(s[si:], seg.lit, fold) {
					si += len(seg.lit)
					pi++
					continue
				}
			}
		}
		if starPi < 0 || starSi >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		if !p.seekAfterStar(s, &starSi, starPi+1, fold) {
			return false
		}
		si, pi = starSi, starPi+1
	}
	return true
}

// seekAfterStar moves *si, the end of a star, to the next place the
// segment at pi can start. It reports false when that segment is a
// searchable literal that does not occur at or after *si.
func (p *Pattern) seekAfterStar(s string, si *int, pi int, fold bool) bool {
	if pi >= len(p.segs) || !p.segs[pi].searchable {
		return true
	}
	i := index(s[*si:], p.segs[pi].lit, fold)
	if i < 0 {
		return false
	}
	*si += i
	return true
}

// hasPrefix reports whether s begins with lit, folding ASCII case when
// fold is set.
func hasPrefix(s, lit string, fold bool) bool {
	if fold {
		return hasPrefixFold(s, lit)
	}
	return strings.HasPrefix(s, lit)
}

// index returns the first index of lit in s, or -1, folding ASCII case
// when fold is set.
func index(s, lit string, fold bool) int {
	if fold {
		return indexFold(s, lit)
	}
	return strings.Index(s, lit)
}

// isASCII reports whether s has only ASCII bytes. It tests eight bytes at
// a time: the compiler turns the shifted ORs into one load.
func isASCII(s string) bool {
	for len(s) >= 8 {
		word := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if word&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold compares an ASCII or already lowered s with a lowered lit.
func hasPrefixFold(s, lit string) bool {
	if len(s) < len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if lower(s[i]) != lit[i] {
			return false
		}
	}
	return true
}

// indexFold returns the first index of the lowered lit in s, comparing
// ASCII letters of s in either case, or -1. It lets strings.IndexByte find
// the candidates: the places of the first byte of lit that is not a
// letter, or, when lit is all letters, of its first letter in either case.
func indexFold(s, lit string) int {
	n := len(lit)
	if n == 0 {
		return 0
	}
	if n > len(s) {
		return -1
	}
	k := 0
	for k < n && 'a' <= lit[k] && lit[k] <= 'z' {
		k++
	}
	if k < n {
		// Only lit[k] itself folds to lit[k]; look for it between k and
		// the last place it can have in a match.
		c, window := lit[k], s[:len(s)-n+k+1]
		for from := k; ; {
			j := strings.IndexByte(window[from:], c)
			if j < 0 {
				return -1
			}
			at := from + j - k
			if hasPrefixFold(s[at:], lit) {
				return at
			}
			from += j + 1
		}
	}
	starts := s[:len(s)-n+1]
	lo, up := lit[0], lit[0]-'a'+'A'
	nextLo, nextUp := indexByteFrom(starts, lo, 0), indexByteFrom(starts, up, 0)
	for nextLo >= 0 || nextUp >= 0 {
		at := nextLo
		if at < 0 || nextUp >= 0 && nextUp < at {
			at = nextUp
		}
		if hasPrefixFold(s[at+1:], lit[1:]) {
			return at
		}
		if at == nextLo {
			nextLo = indexByteFrom(starts, lo, at+1)
		} else {
			nextUp = indexByteFrom(starts, up, at+1)
		}
	}
	return -1
}

// indexByteFrom returns the first index of c in s at or after from, or -1.
func indexByteFrom(s string, c byte, from int) int {
	i := strings.IndexByte(s[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// HasWildcard reports whether s contains a wildcard character of the
// dialect: '*', and '?' when single is set.
func HasWildcard(s string, single bool) bool {
	if single {
		return strings.ContainsAny(s, "*?")
	}
	return strings.Contains(s, "*")
}
