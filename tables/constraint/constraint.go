// Package constraint turns the WHERE constraints osquery passes to a table
// into bounds a table can push down to its data source.
//
// Constraint values come from whoever wrote the SQL: they are untrusted.
// Every helper here follows one rule: SQLite re-applies the whole WHERE
// clause to the rows a table returns, so a table may always return MORE
// rows than asked (a superset) but never fewer. Hence:
//
//   - operators a helper does not understand (LIKE, GLOB, REGEXP, MATCH)
//     are ignored, which widens the result;
//   - a value that is malformed for the column's domain is either known to
//     match nothing (an id that is not a UUID can never equal a stored id)
//     or, when that is not certain, ignored;
//   - a column with more than MaxPerColumn constraints is not pushed down
//     at all (the scan is then bounded by the store's retention, never by
//     the caller).
//
// Constraints on one column AND together. Equality values of one column
// are collected as a set: exact for the single value osquery passes per
// call (SQLite expands IN lists into one call per value), and still a
// correct superset should several arrive at once.
package constraint

import (
	"math"
	"strconv"

	"github.com/osquery/osquery-go/plugin/table"
)

// MaxPerColumn is the most constraints on one column that are pushed down.
const MaxPerColumn = 64

// Operators osquery passes (osquery-go leaves most of them untyped).
const (
	OpEquals             table.Operator = table.OperatorEquals
	OpGreaterThan        table.Operator = table.OperatorGreaterThan
	OpLessThanOrEquals   table.Operator = table.OperatorLessThanOrEquals
	OpLessThan           table.Operator = table.OperatorLessThan
	OpGreaterThanOrEqual table.Operator = table.OperatorGreaterThanOrEquals
)

// IntRange is an inclusive range of integers a column may take. The zero
// value is not meaningful; start from FullRange.
type IntRange struct {
	Min, Max int64
	// Values, when non-nil, are the equality values the column may take
	// (sorted, distinct, all within Min..Max).
	Values []int64
}

// FullRange admits every integer.
func FullRange() IntRange { return IntRange{Min: math.MinInt64, Max: math.MaxInt64} }

// Empty reports whether no integer satisfies the range.
func (r IntRange) Empty() bool {
	return r.Min > r.Max || (r.Values != nil && len(r.Values) == 0)
}

// Bounded reports whether the range excludes anything at all.
func (r IntRange) Bounded() bool {
	return r.Min != math.MinInt64 || r.Max != math.MaxInt64 || r.Values != nil
}

// Ints narrows FullRange by the =, >, >=, < and <= constraints of an
// integer column. A value that is not a decimal int64 is ignored (SQLite
// still applies it). Equality values narrow Min and Max to their span.
func Ints(cl table.ConstraintList) IntRange {
	r := FullRange()
	if len(cl.Constraints) > MaxPerColumn {
		return r
	}
	var eq []int64
	for _, c := range cl.Constraints {
		v, err := strconv.ParseInt(c.Expression, 10, 64)
		if err != nil {
			continue
		}
		switch c.Operator {
		case OpEquals:
			eq = append(eq, v)
		case OpGreaterThan:
			if v == math.MaxInt64 {
				return IntRange{Min: 1, Max: 0}
			}
			r.Min = max(r.Min, v+1)
		case OpGreaterThanOrEqual:
			r.Min = max(r.Min, v)
		case OpLessThan:
			if v == math.MinInt64 {
				return IntRange{Min: 1, Max: 0}
			}
			r.Max = min(r.Max, v-1)
		case OpLessThanOrEquals:
			r.Max = min(r.Max, v)
		}
	}
	if eq != nil {
		r.Values = []int64{}
		seen := map[int64]bool{}
		for _, v := range eq {
			if v >= r.Min && v <= r.Max && !seen[v] {
				seen[v] = true
				r.Values = append(r.Values, v)
			}
		}
		sortInts(r.Values)
		if len(r.Values) > 0 {
			r.Min, r.Max = r.Values[0], r.Values[len(r.Values)-1]
		}
	}
	return r
}

func sortInts(v []int64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// StringSet is what the equality constraints of a text column allow.
type StringSet struct {
	// Any is true when the column has no usable equality constraint.
	Any bool
	// Values are the distinct values allowed (when Any is false). Empty
	// means nothing can match.
	Values []string
}

// None reports whether no row can match.
func (s StringSet) None() bool { return !s.Any && len(s.Values) == 0 }

// Strings collects the equality values of a text column. valid decides
// whether a value could ever match a stored row: values it rejects are
// dropped, so a column whose every value is invalid matches nothing. A nil
// valid accepts everything.
func Strings(cl table.ConstraintList, valid func(string) bool) StringSet {
	if len(cl.Constraints) > MaxPerColumn {
		return StringSet{Any: true}
	}
	set := StringSet{Any: true}
	seen := map[string]bool{}
	for _, c := range cl.Constraints {
		if c.Operator != OpEquals {
			continue
		}
		set.Any = false
		if valid != nil && !valid(c.Expression) {
			continue
		}
		if !seen[c.Expression] {
			seen[c.Expression] = true
			set.Values = append(set.Values, c.Expression)
		}
	}
	return set
}

// IsUUID reports whether s has the textual form of a UUID
// (8-4-4-4-12 hexadecimal digits).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// OneOf returns a validator accepting exactly the given values.
func OneOf(values ...string) func(string) bool {
	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return func(s string) bool { return set[s] }
}

// MaxLen returns a validator accepting values of at most n bytes.
func MaxLen(n int) func(string) bool {
	return func(s string) bool { return len(s) <= n }
}
