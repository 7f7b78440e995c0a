package eql

import (
	"sort"
	"testing"
)

// corpusRegexes returns the regex and regex~ patterns of the shared rule
// corpus's EQL rules, keyed by pattern with whether it folds.
func corpusRegexes(t *testing.T) map[corpusRegex]string {
	t.Helper()
	out := map[corpusRegex]string{}
	for path, rf := range corpusRules(t) {
		toks, err := lex(rf.Rule.Query)
		if err != nil {
			continue
		}
		for i, tok := range toks {
			if !tok.is(tkIdent, "regex") && !tok.is(tkIdent, "regex~") {
				continue
			}
			fold := tok.text == "regex~"
			for _, s := range regexOperands(toks[i+1:]) {
				out[corpusRegex{s, fold}] = path
			}
		}
	}
	return out
}

type corpusRegex struct {
	pattern string
	fold    bool
}

// regexOperands returns the string operands at the start of toks: one
// string or a parenthesised list of them.
func regexOperands(toks []token) []string {
	if len(toks) > 0 && toks[0].kind == tkString {
		return []string{toks[0].text}
	}
	if len(toks) == 0 || !toks[0].is(tkPunct, "(") {
		return nil
	}
	var out []string
	for _, tok := range toks[1:] {
		switch {
		case tok.kind == tkString:
			out = append(out, tok.text)
		case tok.is(tkPunct, ","):
		default:
			return out
		}
	}
	return out
}

// TestCorpusRegexPrechecks compiles every regex of the shared corpus and
// counts the ones whose precheck tests more than nothing.
func TestCorpusRegexPrechecks(t *testing.T) {
	regexes := corpusRegexes(t)
	if len(regexes) == 0 {
		t.Fatal("no regex found in the corpus")
	}
	keys := make([]corpusRegex, 0, len(regexes))
	for k := range regexes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].pattern < keys[j].pattern })
	var trivial, lengthOnly, textOrClass int
	for _, k := range keys {
		cr, err := compileCheckedRegex(k.pattern, k.fold)
		if err != nil {
			t.Errorf("%s: regex %q does not compile: %v", regexes[k], k.pattern, err)
			continue
		}
		p := cr.pre
		switch {
		case p.trivial():
			trivial++
			t.Logf("trivial precheck: %q", k.pattern)
		case p.prefix == "" && p.suffix == "" && len(p.subs) == 0 && len(p.sets) == 0:
			lengthOnly++
			t.Logf("length-only precheck: %q %d..%d", k.pattern, p.minLen, p.maxLen)
		default:
			textOrClass++
		}
	}
	t.Logf("%d distinct corpus regexes: %d with a text or class condition, %d with only length bounds, %d trivial",
		len(keys), textOrClass, lengthOnly, trivial)
}
