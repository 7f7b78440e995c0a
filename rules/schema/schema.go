// Package schema is the field schema Elastic's detection-rules tooling
// validates rules against: ECS 9.4.0 and the non-ECS fields it accepts
// (auditd, Endpoint's process.Ext, ...). fields_gen.go is generated from
// Elastic's published files (see ../../../shared/ecs/NOTICE.md); run
// `go generate ./rules/schema` with them beside the checkout.
package schema

//go:generate go run ./internal/gen -src ../../../shared/ecs -out fields_gen.go

import (
	"sort"
	"strings"
)

type field struct {
	typ    string // Elasticsearch type: keyword, long, ip, date, ...
	origin string // "ecs", or the index pattern whose schema defines it
}

// Type returns the field's Elasticsearch type, and whether the schema
// knows the field. Leaves under a flattened or object field (labels.x,
// process.env_vars...) are known, with that parent's type.
func Type(name string) (string, bool) {
	name = strings.TrimPrefix(name, "?")
	if f, ok := fields[name]; ok {
		return f.typ, true
	}
	// A multi-field (process.name.text, ...) or a leaf of a flattened or
	// object field.
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		parent, ok := fields[name[:i]]
		if !ok {
			continue
		}
		switch parent.typ {
		case "flattened", "object":
			return parent.typ, true
		}
		if sub := name[i+1:]; !strings.Contains(sub, ".") && (sub == "text" || sub == "caseless") {
			return "match_only_text", true
		}
	}
	return "", false
}

// Origin names where a known field is defined: "ecs", or the index
// pattern of the non-ECS schema that defines it.
func Origin(name string) string { return fields[strings.TrimPrefix(name, "?")].origin }

// Closest returns the known field nearest to name by edit distance (ties:
// the alphabetically first), for "did you mean" messages.
func Closest(name string) string {
	best, bestD := "", -1
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if fields[n].typ == "object" || fields[n].typ == "nested" {
			continue
		}
		if d := distance(name, n, bestD); d >= 0 && (bestD < 0 || d < bestD) {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, or -1 when it is
// known to exceed limit (limit < 0: none).
func distance(a, b string, limit int) int {
	if limit >= 0 && abs(len(a)-len(b)) > limit {
		return -1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if limit >= 0 && rowMin > limit {
			return -1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Numeric reports the types whose values are numbers.
func Numeric(typ string) bool {
	switch typ {
	case "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long":
		return true
	}
	return false
}
