package ecs

import (
	"sort"
	"strings"
)

// Prefilter is a necessary condition a compiled query states about the
// events it can match: some element of Field equals one of Values, starts
// with one of Prefixes, ends with one of Suffixes or contains one of
// Contains (compared after lower-casing both sides when Fold is set). An
// engine uses it to skip, with a few lookups, the rules an event cannot
// match.
type Prefilter struct {
	Field    string
	Values   []string
	Prefixes []string
	Suffixes []string
	Contains []string
	Fold     bool
}

// Indexable reports whether the field's values can key an index: ip
// fields compare as addresses ("::1" equals "0:0::1"), not as text.
func Indexable(field string) bool {
	return !strings.HasSuffix(field, ".ip") && field != "@timestamp"
}

// broad reports whether a field describes the kind of event or host: it
// holds the same few values on nearly every event, so an index on it
// narrows little.
func broad(field string) bool {
	return strings.HasPrefix(field, "event.") || strings.HasPrefix(field, "host.") ||
		strings.HasPrefix(field, "data_stream.") || strings.HasPrefix(field, "agent.")
}

// PlainText reports whether a literal compares as text only: it is not a
// number or boolean, which query languages also match against numeric or
// boolean values written differently.
func PlainText(s string) bool {
	if s == "" || s == "true" || s == "false" {
		return false
	}
	if !strings.ContainsRune("+-.0123456789iInN", rune(s[0])) {
		// No number strconv.ParseFloat reads starts otherwise (signs,
		// digits, a point, inf, infinity and nan); most literals are
		// words, and a failed parse allocates its error.
		return true
	}
	if _, ok := Str(s).Number(); ok {
		return false
	}
	return true
}

// PatternKey turns an anchored wildcard pattern (after unescaping, with
// wild marking which bytes are wildcards) into an index key: the whole
// literal when there is no wildcard; else the longer of the text before
// the first wildcard and after the last or, when that is short, the longest
// literal run between wildcards, which every match contains.
// It reports false when no literal is long enough to narrow anything.
func PatternKey(lit string, wild func(i int) bool) (key string, kind KeyKind, ok bool) {
	first, last := -1, -1
	inner, start := "", -1
	for i := 0; i <= len(lit); i++ {
		if i < len(lit) && !wild(i) {
			if start < 0 {
				start = i
			}
			continue
		}
		if i < len(lit) {
			if first < 0 {
				first = i
			}
			last = i
		}
		if start > 0 && i < len(lit) && len(lit[start:i]) > len(inner) {
			inner = lit[start:i]
		}
		start = -1
	}
	if first < 0 {
		return lit, KeyExact, lit != ""
	}
	anchored, kind := lit[:first], KeyPrefix
	if suffix := lit[last+1:]; len(suffix) > len(anchored) {
		anchored, kind = suffix, KeySuffix
	}
	switch {
	case len(anchored) >= MinAnchoredKey || (anchored != "" && len(anchored) >= len(inner)):
		return anchored, kind, true
	case len(inner) >= MinContainsKey:
		return inner, KeyContains, true
	case anchored != "":
		return anchored, kind, true
	}
	return "", 0, false
}

// Below these lengths a prefix or suffix gives way to a longer inner
// literal, and an inner literal is too common to be worth a key.
const (
	MinAnchoredKey = 4
	MinContainsKey = 3
)

// KeyKind says how an index key relates to the values it admits.
type KeyKind uint8

const (
	KeyExact KeyKind = iota
	KeyPrefix
	KeySuffix
	KeyContains
)

// Add puts a key of the given kind into the prefilter.
func (p *Prefilter) Add(key string, kind KeyKind) {
	switch kind {
	case KeyExact:
		p.Values = append(p.Values, key)
	case KeyPrefix:
		p.Prefixes = append(p.Prefixes, key)
	case KeySuffix:
		p.Suffixes = append(p.Suffixes, key)
	case KeyContains:
		p.Contains = append(p.Contains, key)
	}
}

func (p *Prefilter) empty() bool { return p.keys() == 0 }

func (p *Prefilter) keys() int {
	return len(p.Values) + len(p.Prefixes) + len(p.Suffixes) + len(p.Contains)
}

// BetterDisjunction reports whether the disjunction a is a better index
// key than b: one without broad fields (event.*, host.*) first, then fewer
// fields to look up, then fields that name the process, then fewer keys.
func BetterDisjunction(a, b []Prefilter) bool {
	ba, bb := anyBroad(a), anyBroad(b)
	if ba != bb {
		return !ba
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	ra, rb, va, vb := 0, 0, 0, 0
	for _, p := range a {
		ra += prefilterRank(p.Field)
		va += p.keys()
	}
	for _, p := range b {
		rb += prefilterRank(p.Field)
		vb += p.keys()
	}
	if ra != rb {
		return ra < rb
	}
	return va < vb
}

func anyBroad(ps []Prefilter) bool {
	for _, p := range ps {
		if broad(p.Field) {
			return true
		}
	}
	return false
}

// MergePrefilters joins the prefilters of a disjunction that test the same
// field the same way.
func MergePrefilters(ps []Prefilter) []Prefilter {
	var out []Prefilter
	for _, p := range ps {
		if p.empty() {
			continue
		}
		merged := false
		for i := range out {
			if out[i].Field == p.Field && out[i].Fold == p.Fold {
				out[i].Values = append(out[i].Values, p.Values...)
				out[i].Prefixes = append(out[i].Prefixes, p.Prefixes...)
				out[i].Suffixes = append(out[i].Suffixes, p.Suffixes...)
				out[i].Contains = append(out[i].Contains, p.Contains...)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, Prefilter{Field: p.Field, Fold: p.Fold,
				Values:   append([]string(nil), p.Values...),
				Prefixes: append([]string(nil), p.Prefixes...),
				Suffixes: append([]string(nil), p.Suffixes...),
				Contains: append([]string(nil), p.Contains...)})
		}
	}
	return out
}

func prefilterRank(field string) int {
	switch field {
	case "process.name":
		return 0
	case "process.executable":
		return 1
	case "process.parent.name":
		return 2
	case "process.parent.executable":
		return 3
	}
	return 4
}

// KeyText returns s as the prefilter compares it: lower-cased when Fold
// is set, as is.
func (p *Prefilter) KeyText(s string) string {
	if p.Fold {
		return strings.ToLower(s)
	}
	return s
}

// Holds reports whether the value meets the prefilter: some element's text
// equals one of Values, starts or ends with one of Prefixes or Suffixes,
// or contains one of Contains.
// An engine indexing the prefilter would pick the rule for an event
// carrying v exactly when Holds is true.
func (p *Prefilter) Holds(v Value) bool {
	norm := p.KeyText
	for _, el := range v.Elems() {
		s, ok := el.Text()
		if !ok {
			continue
		}
		s = norm(s)
		for _, want := range p.Values {
			if s == norm(want) {
				return true
			}
		}
		for _, pre := range p.Prefixes {
			if strings.HasPrefix(s, norm(pre)) {
				return true
			}
		}
		for _, suf := range p.Suffixes {
			if strings.HasSuffix(s, norm(suf)) {
				return true
			}
		}
		for _, sub := range p.Contains {
			if strings.Contains(s, norm(sub)) {
				return true
			}
		}
	}
	return false
}

// BestDisjunctions orders necessary conditions (each a disjunction of
// prefilters) best index key first, by BetterDisjunction, and keeps at
// most n. An empty disjunction, which nothing meets, comes first. cs must
// not be empty.
func BestDisjunctions(cs [][]Prefilter, n int) [][]Prefilter {
	out := append([][]Prefilter(nil), cs...)
	sort.SliceStable(out, func(i, j int) bool { return BetterDisjunction(out[i], out[j]) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// ConditionTree is how a query language's condition tree is read for its
// necessary conditions, whatever the tree's node type N.
type ConditionTree[N any] struct {
	// Verdict is a node's value over every event of a shape (see Tri).
	Verdict func(n N, s *Shape) Tri
	// Split returns the operands of a conjunction (and true) or of a
	// disjunction (and false); ok is false for any other node.
	Split func(n N) (operands []N, and, ok bool)
	// Leaf returns the prefilter a single test states, if any.
	Leaf func(n N) ([]Prefilter, bool)
}

// Conjuncts finds necessary conditions of n: disjunctions of "field
// equals, starts with, ends with or contains one of these strings" tests,
// each of which has a test holding for every event n matches. It reports
// false when n states none.
//
// With a shape, it finds them for the events of that shape: a part of n the
// shape settles is left out (when always true it tells nothing; when always
// false it needs nothing, which an empty disjunction says).
func (t ConditionTree[N]) Conjuncts(n N, s *Shape) ([][]Prefilter, bool) {
	if s != nil {
		switch t.Verdict(n, s) {
		case True:
			return nil, false
		case False:
			return [][]Prefilter{{}}, true
		}
	}
	operands, and, ok := t.Split(n)
	switch {
	case ok && and:
		var all [][]Prefilter
		for _, op := range operands {
			if c, ok := t.Conjuncts(op, s); ok {
				all = append(all, c...)
			}
		}
		return all, len(all) > 0
	case ok:
		var all []Prefilter
		for _, op := range operands {
			p, ok := t.Best(op, s)
			if !ok {
				return nil, false
			}
			all = append(all, p...)
		}
		return [][]Prefilter{MergePrefilters(all)}, true
	}
	p, ok := t.Leaf(n)
	if !ok {
		return nil, false
	}
	return [][]Prefilter{p}, true
}

// Best is the best of n's necessary conditions for an index.
func (t ConditionTree[N]) Best(n N, s *Shape) ([]Prefilter, bool) {
	cs, ok := t.Conjuncts(n, s)
	if !ok {
		return nil, false
	}
	return BestDisjunctions(cs, 1)[0], true
}

// Target is what an index keys a rule by, or one step of a sequence rule:
// the conditions an event must meet to matter to it.
type Target struct {
	// Steps are the sequence steps the target stands for (bit j is step
	// j, bit 63 the until condition); every bit for a single-event rule.
	Steps uint64
	// Clauses are necessary conditions, each a disjunction of prefilters
	// some test of which holds for every event that matters; none means
	// every event matters.
	Clauses [][]Prefilter
}

// AllSteps is the Steps of a target standing for a whole rule.
const AllSteps = ^uint64(0)

// MaxConjuncts bounds how many necessary conditions a target states: the
// best ones, by BestDisjunctions.
const MaxConjuncts = 4

// WholeTarget is the targets of a query indexed as one: a single target
// with clauses, or none when never reports that no event can match.
func WholeTarget(clauses [][]Prefilter, never bool) []Target {
	if never {
		return []Target{}
	}
	return []Target{{Steps: AllSteps, Clauses: clauses}}
}
