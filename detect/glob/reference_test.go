package glob

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceMatch is the plain way to match: the one-literal shapes with a
// byte search, the rest by backtracking where, on a mismatch, the last star
// swallows one more rune and literals are compared in place. Match must
// agree with it on every input, valid UTF-8 or not.
func referenceMatch(p *Pattern, s string) bool {
	fold := p.fold
	if fold && !isASCII(s) {
		return referenceBacktrack(p, strings.ToLower(s))
	}
	lit := p.lit
	switch {
	case p.exact:
		return len(s) == len(lit) && hasPrefix(s, lit, fold)
	case p.any:
		return true
	case p.prefix:
		return hasPrefix(s, lit, fold)
	case p.suffix:
		return len(s) >= len(lit) && hasPrefix(s[len(s)-len(lit):], lit, fold)
	case p.contains:
		for i := 0; i+len(lit) <= len(s); i++ {
			if hasPrefix(s[i:], lit, fold) {
				return true
			}
		}
		return false
	}
	return referenceBacktrack(p, s)
}

// referenceBacktrack matches s, ASCII or lowered when p folds, one rune at
// a time.
func referenceBacktrack(p *Pattern, s string) bool {
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
				if hasPrefix(s[si:], seg.lit, p.fold) {
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

// FuzzMatchReference checks Match against referenceMatch in every dialect,
// including input and patterns that are not valid UTF-8.
func FuzzMatchReference(f *testing.F) {
	f.Add("*aa*aa*", "aaa", false, false, false)
	f.Add("*http*//*/api/v1/secrets*", "curl https://h/api/v1/secrets", false, true, false)
	f.Add("*\xa9*x*", "\xc3\xa9x", false, false, false)
	f.Add("*?b*a", "éBa", true, true, false)
	f.Add(`a\**b`, "a*xb", false, false, true)
	f.Add("*ÄB*c", "xäbc", false, true, false)
	f.Fuzz(func(t *testing.T, pattern, input string, single, fold, escape bool) {
		if len(pattern) > 64 || len(input) > 256 {
			return
		}
		opts := Options{Single: single, Fold: fold, Escape: escape}
		p := Compile(pattern, opts)
		want := referenceMatch(p, input)
		if got := p.Match(input); got != want {
			t.Fatalf("Compile(%q, %+v).Match(%q) = %v, reference says %v", pattern, opts, input, got, want)
		}
	})
}
