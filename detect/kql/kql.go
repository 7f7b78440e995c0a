// Package kql compiles the Kibana Query Language queries of Elastic
// detection rules (language "kuery") into predicates over ecs.Event.
//
// Semantics, as Kibana runs rules against Elasticsearch:
//   - or binds looser than and, which binds looser than not; keywords are
//     case-insensitive; parentheses group expressions and value lists.
//   - field:value is an exact, case-sensitive match. In an unquoted value '*'
//     is a wildcard (anchored); '?' is not. Quoted values are literal.
//   - Every field may hold an array. Each value term means "some element
//     matches": field:(a and b) needs an element matching a and an element
//     (perhaps another) matching b, and field:(not c) means no element
//     matches c. So not field:x also matches events without the field.
//   - field:* tests existence (present and not null; an empty string is
//     present, an empty array is not).
//   - field < v, <=, >, >= compare numerically when both sides are numbers
//     (numeric strings count, as osquery delivers strings), else as strings.
//   - On ip fields (names ending in ".ip") a CIDR value matches the
//     addresses inside it and an address value compares as an address.
//   - A number or true/false value also matches numeric or boolean elements.
//
// Nested field queries (field:{…}), wildcard field names and free-text
// terms are refused with an *UnsupportedError, never ignored.
package kql

import (
	"sort"
	"strings"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Query is a compiled KQL query. It is immutable and safe for concurrent
// use; Match does not allocate.
type Query struct {
	// Match reports whether an event satisfies the query.
	Match ecs.Predicate
	// Fields are the names of the fields the query reads, sorted, without
	// duplicates.
	Fields []string
	// Prefilters are necessary conditions: every event the query matches
	// satisfies at least one of them. Nil when the query states none an
	// index could use.
	Prefilters []ecs.Prefilter

	src  string
	root node
}

// Compile parses src and compiles it. Errors are *SyntaxError for malformed
// queries and *UnsupportedError for constructs this engine does not run.
func Compile(src string) (*Query, error) {
	if len(src) > MaxQueryLen {
		return nil, syntaxErr("", 0, "query longer than %d bytes", MaxQueryLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if err := checkLimits(src, toks); err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, fields: map[string]bool{}}
	root, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	root = simplify(root)
	finalize(root)
	fields := make([]string, 0, len(p.fields))
	for f := range p.fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	q := &Query{Match: root.match, Fields: fields, src: src, root: root}
	if p, ok := prefilterOf(root, nil); ok {
		q.Prefilters = p
	}
	return q, nil
}

// Source returns the query text Compile was given.
func (q *Query) Source() string { return q.src }

// String renders the compiled query, after optimization, one clause per
// line: and(…)/or(…) groups, "not", field:value with literals quoted,
// patterns bare, field:* for existence, ip(…) and cidr(…) on ip fields.
// It is meant for debugging and golden tests, not for re-parsing.
func (q *Query) String() string {
	var b strings.Builder
	q.root.write(&b, 0)
	b.WriteByte('\n')
	return b.String()
}
