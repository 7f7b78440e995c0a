package constraint

import (
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
)

func cl(cs ...table.Constraint) table.ConstraintList {
	return table.ConstraintList{Affinity: table.ColumnTypeBigInt, Constraints: cs}
}

func c(op table.Operator, expr string) table.Constraint {
	return table.Constraint{Operator: op, Expression: expr}
}

func TestInts(t *testing.T) {
	t.Parallel()
	full := FullRange()
	tests := []struct {
		name  string
		list  table.ConstraintList
		want  IntRange
		empty bool
	}{
		{"none", cl(), full, false},
		{"greater", cl(c(OpGreaterThan, "100")), IntRange{Min: 101, Max: math.MaxInt64}, false},
		{"greater or equal", cl(c(OpGreaterThanOrEqual, "100")), IntRange{Min: 100, Max: math.MaxInt64}, false},
		{"less", cl(c(OpLessThan, "100")), IntRange{Min: math.MinInt64, Max: 99}, false},
		{"less or equal", cl(c(OpLessThanOrEquals, "100")), IntRange{Min: math.MinInt64, Max: 100}, false},
		{"window", cl(c(OpGreaterThan, "10"), c(OpLessThanOrEquals, "20")), IntRange{Min: 11, Max: 20}, false},
		{"ands narrow", cl(c(OpGreaterThan, "10"), c(OpGreaterThan, "15"), c(OpLessThan, "30"), c(OpLessThan, "25")), IntRange{Min: 16, Max: 24}, false},
		{"contradiction", cl(c(OpGreaterThan, "20"), c(OpLessThan, "10")), IntRange{Min: 21, Max: 9}, true},
		{"equal", cl(c(OpEquals, "42")), IntRange{Min: 42, Max: 42, Values: []int64{42}}, false},
		{"equal outside range", cl(c(OpEquals, "5"), c(OpGreaterThan, "10")), IntRange{Min: 11, Max: math.MaxInt64, Values: []int64{}}, true},
		{"two equals are a set", cl(c(OpEquals, "7"), c(OpEquals, "3"), c(OpEquals, "7")), IntRange{Min: 3, Max: 7, Values: []int64{3, 7}}, false},
		{"greater than max int", cl(c(OpGreaterThan, "9223372036854775807")), IntRange{Min: 1, Max: 0}, true},
		{"less than min int", cl(c(OpLessThan, "-9223372036854775808")), IntRange{Min: 1, Max: 0}, true},
		{"overflowing value ignored", cl(c(OpGreaterThan, "99999999999999999999")), full, false},
		{"text value ignored", cl(c(OpGreaterThan, "abc")), full, false},
		{"float value ignored", cl(c(OpGreaterThan, "100.5")), full, false},
		{"padded value ignored", cl(c(OpEquals, " 100")), full, false},
		{"like ignored", cl(c(table.OperatorLike, "1%")), full, false},
		{"glob ignored", cl(c(table.OperatorGlob, "1*")), full, false},
		{"unknown op ignored", cl(c(table.Operator(3), "5")), full, false},
		{"negative", cl(c(OpGreaterThanOrEqual, "-5"), c(OpLessThanOrEquals, "-1")), IntRange{Min: -5, Max: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Ints(tt.list)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Ints = %+v, want %+v", got, tt.want)
			}
			if got.Empty() != tt.empty {
				t.Errorf("Empty() = %v, want %v", got.Empty(), tt.empty)
			}
		})
	}
}

func TestIntsTooManyConstraints(t *testing.T) {
	t.Parallel()
	var cs []table.Constraint
	for i := range MaxPerColumn + 1 {
		cs = append(cs, c(OpGreaterThan, strconv.Itoa(i)))
	}
	if got := Ints(cl(cs...)); got.Bounded() {
		t.Errorf("Ints over the bound = %+v, want the full range", got)
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	const u1 = "5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2b"
	tests := []struct {
		name  string
		list  table.ConstraintList
		valid func(string) bool
		want  StringSet
	}{
		{"none", cl(), IsUUID, StringSet{Any: true}},
		{"one valid", cl(c(OpEquals, u1)), IsUUID, StringSet{Values: []string{u1}}},
		{"invalid matches nothing", cl(c(OpEquals, "'; DROP TABLE alerts")), IsUUID, StringSet{}},
		{"valid and invalid", cl(c(OpEquals, "x"), c(OpEquals, u1), c(OpEquals, u1)), IsUUID, StringSet{Values: []string{u1}}},
		{"like ignored", cl(c(table.OperatorLike, "5f%")), IsUUID, StringSet{Any: true}},
		{"one of", cl(c(OpEquals, "high")), OneOf("low", "high"), StringSet{Values: []string{"high"}}},
		{"not one of", cl(c(OpEquals, "HIGH")), OneOf("low", "high"), StringSet{}},
		{"max len", cl(c(OpEquals, "abcd")), MaxLen(3), StringSet{}},
		{"no validator", cl(c(OpEquals, "")), nil, StringSet{Values: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Strings(tt.list, tt.valid)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Strings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIsUUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2b":  true,
		"5F0C1B6E-8A0F-5D6E-9A43-0F7E8C9D1A2B":  true,
		"5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2":   false,
		"5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2bb": false,
		"5f0c1b6e08a0f-5d6e-9a43-0f7e8c9d1a2b":  false,
		"5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2g":  false,
		"":                                      false,
	} {
		if got := IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	}
}

// satisfies evaluates one constraint on an integer the way SQLite would
// for a numeric column compared with an integer literal.
func satisfies(v int64, con table.Constraint) (bool, bool) {
	x, err := strconv.ParseInt(con.Expression, 10, 64)
	if err != nil {
		return false, false // not a plain integer: the reference cannot judge it
	}
	switch con.Operator {
	case OpEquals:
		return v == x, true
	case OpGreaterThan:
		return v > x, true
	case OpGreaterThanOrEqual:
		return v >= x, true
	case OpLessThan:
		return v < x, true
	case OpLessThanOrEquals:
		return v <= x, true
	}
	return false, false
}

// FuzzInts checks the push-down rule: a value that satisfies every
// constraint is always inside the computed range (a superset, never less).
func FuzzInts(f *testing.F) {
	f.Add(int64(100), uint8(4), "50", uint8(16), "200", uint8(2), "100")
	f.Add(int64(math.MaxInt64), uint8(4), "9223372036854775806", uint8(8), "x", uint8(65), "%")
	f.Add(int64(math.MinInt64), uint8(16), "-9223372036854775807", uint8(2), "-9223372036854775808", uint8(32), "0")
	f.Fuzz(func(t *testing.T, v int64, op1 uint8, e1 string, op2 uint8, e2 string, op3 uint8, e3 string) {
		list := cl(c(table.Operator(op1), e1), c(table.Operator(op2), e2), c(table.Operator(op3), e3))
		r := Ints(list)
		all := true
		for _, con := range list.Constraints {
			ok, judged := satisfies(v, con)
			if judged && !ok {
				all = false
			}
		}
		if !all {
			return
		}
		if r.Empty() || v < r.Min || v > r.Max {
			t.Fatalf("%d satisfies %v but Ints gave %+v", v, list.Constraints, r)
		}
		if r.Values != nil {
			found := false
			for _, x := range r.Values {
				found = found || x == v
			}
			if !found {
				t.Fatalf("%d satisfies %v but is not among %v", v, list.Constraints, r.Values)
			}
		}
	})
}

// FuzzStrings checks that a valid value equal to every equality constraint
// is always kept.
func FuzzStrings(f *testing.F) {
	f.Add("5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2b", uint8(2), "5f0c1b6e-8a0f-5d6e-9a43-0f7e8c9d1a2b", uint8(65))
	f.Add("x", uint8(2), "y", uint8(2))
	f.Fuzz(func(t *testing.T, v string, op1 uint8, e1 string, op2 uint8) {
		list := cl(c(table.Operator(op1), e1), c(table.Operator(op2), v))
		set := Strings(list, IsUUID)
		if !IsUUID(v) {
			return
		}
		matches := true
		for _, con := range list.Constraints {
			if con.Operator == OpEquals && con.Expression != v {
				matches = false
			}
		}
		if !matches {
			return
		}
		if set.Any {
			return
		}
		for _, x := range set.Values {
			if x == v {
				return
			}
		}
		t.Fatalf("%q matches %v but Strings gave %+v", v, list.Constraints, set)
	})
}
