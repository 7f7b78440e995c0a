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
}

// Pattern is a compiled wildcard pattern.
type Pattern struct {
	src  string
	fold bool
	segs []segment
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
			p.segs = append(p.segs, segment{kind: segLiteral, lit: s})
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
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	p.classify()
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

// String returns the source of the pattern.
func (p *Pattern) String() string { return p.src }

// Literal reports whether the pattern has no wildcard, and its literal text.
func (p *Pattern) Literal() (string, bool) { return p.lit, p.exact }

// Match reports whether s matches the whole pattern.
func (p *Pattern) Match(s string) bool {
	if p.fold {
		if !isASCII(s) {
			return p.match(strings.ToLower(s))
		}
		switch {
		case p.exact:
			return len(s) == len(p.lit) && hasPrefixFold(s, p.lit)
		case p.any:
			return true
		case p.prefix:
			return hasPrefixFold(s, p.lit)
		case p.suffix:
			return len(s) >= len(p.lit) && hasPrefixFold(s[len(s)-len(p.lit):], p.lit)
		case p.contains:
			return indexFold(s, p.lit) >= 0
		}
		return p.match(s)
	}
	switch {
	case p.exact:
		return s == p.lit
	case p.any:
		return true
	case p.prefix:
		return strings.HasPrefix(s, p.lit)
	case p.suffix:
		return strings.HasSuffix(s, p.lit)
	case p.contains:
		return strings.Contains(s, p.lit)
	}
	return p.match(s)
}

// match is the general matcher: it advances through the segments and, on a
// mismatch, lets the most recent star swallow one more character. Only the
// last star ever needs to move, so matching is O(len(s)*len(pattern)).
func (p *Pattern) match(s string) bool {
	segs := p.segs
	si, pi := 0, 0
	starPi, starSi := -1, 0
	for si < len(s) || pi < len(segs) {
		if pi < len(segs) {
			switch seg := segs[pi]; seg.kind {
			case segStar:
				starPi, starSi = pi, si
				pi++
				continue
			case segOne:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					pi++
					continue
				}
			case segLiteral:
				if p.hasPrefix(s[si:], seg.lit) {
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
		si, pi = starSi, starPi+1
	}
	return true
}

func (p *Pattern) hasPrefix(s, lit string) bool {
	if p.fold {
		return hasPrefixFold(s, lit)
	}
	return strings.HasPrefix(s, lit)
}

func isASCII(s string) bool {
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

func indexFold(s, lit string) int {
	for i := 0; i+len(lit) <= len(s); i++ {
		if hasPrefixFold(s[i:], lit) {
			return i
		}
	}
	return -1
}

// HasWildcard reports whether s contains a wildcard character of the
// dialect: '*', and '?' when single is set.
func HasWildcard(s string, single bool) bool {
	if single {
		return strings.ContainsAny(s, "*?")
	}
	return strings.Contains(s, "*")
}
