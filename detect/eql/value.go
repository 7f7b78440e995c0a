package eql

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// constant is a literal with its numeric reading precomputed, so that a
// keyword "0" and a long 0 compare equal, as Elasticsearch coerces them.
type constant struct {
	v     ecs.Value
	num   float64
	isNum bool // v is a number, or a string that reads as one
}

func makeConst(v ecs.Value) constant {
	c := constant{v: v}
	switch v.Kind {
	case ecs.Int, ecs.Float:
		c.num, c.isNum = v.Float(), true
	case ecs.String:
		c.num, c.isNum = parseNum(v.Str)
	}
	return c
}

// parseNum reads s as a number without allocating for strings that are
// not numbers (strconv's error values allocate).
func parseNum(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// numOf reads an element as a number: numbers as they are, strings that
// parse (osquery delivers every column as text).
func numOf(e *ecs.Value) (float64, bool) {
	switch e.Kind {
	case ecs.Int, ecs.Float:
		return e.Float(), true
	case ecs.String:
		return parseNum(e.Str)
	}
	return 0, false
}

// equalConst reports whether element e equals c, the way a term query on a
// keyword or numeric field does.
func equalConst(e *ecs.Value, c *constant) bool {
	switch e.Kind {
	case ecs.String:
		switch c.v.Kind {
		case ecs.String:
			return e.Str == c.v.Str
		case ecs.Int, ecs.Float:
			n, ok := parseNum(e.Str)
			return ok && n == c.num
		case ecs.Bool:
			return (e.Str == "true" && c.v.Bool()) || (e.Str == "false" && !c.v.Bool())
		}
	case ecs.Int:
		if c.v.Kind == ecs.Int {
			return e.Int() == c.v.Int()
		}
		return c.isNum && e.Float() == c.num
	case ecs.Float:
		return c.isNum && e.Float() == c.num
	case ecs.Bool:
		switch c.v.Kind {
		case ecs.Bool:
			return e.Bool() == c.v.Bool()
		case ecs.String:
			return (c.v.Str == "true" && e.Bool()) || (c.v.Str == "false" && !e.Bool())
		}
	}
	return false
}

// orderConst compares element e with c: numerically when either side is a
// number and the other reads as one, as strings (byte order, case
// sensitive) when both are strings. ok is false when they do not compare.
func orderConst(e *ecs.Value, c *constant) (cmp int, ok bool) {
	eNumKind := e.Kind == ecs.Int || e.Kind == ecs.Float
	cNumKind := c.v.Kind == ecs.Int || c.v.Kind == ecs.Float
	switch {
	case e.Kind == ecs.String && c.v.Kind == ecs.String:
		return strings.Compare(e.Str, c.v.Str), true
	case e.Kind == ecs.Int && c.v.Kind == ecs.Int:
		a, b := e.Int(), c.v.Int()
		return cmpOrdered(a, b), true
	case eNumKind || cNumKind:
		if !c.isNum {
			return 0, false
		}
		n, isNum := numOf(e)
		if !isNum {
			return 0, false
		}
		if math.IsNaN(n) || math.IsNaN(c.num) {
			return 0, false
		}
		return cmpOrdered(n, c.num), true
	case e.Kind == ecs.Bool && c.v.Kind == ecs.Bool:
		return cmpOrdered(e.Int(), c.v.Int()), true
	}
	return 0, false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpTest returns whether ordering result r satisfies op.
func cmpTest(op string, r int) bool {
	switch op {
	case "==":
		return r == 0
	case "<":
		return r < 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	case ">=":
		return r >= 0
	}
	return false
}

// mirror returns the operator with its operands swapped.
func mirror(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// anyElem reports whether some element of v satisfies test.
func anyElem(v *ecs.Value, test func(*ecs.Value) bool) bool {
	if v == nil {
		return false
	}
	els := v.Elems()
	for i := range els {
		e := &els[i]
		if e.Kind == ecs.Null || e.Kind == ecs.Missing {
			continue
		}
		if test(e) {
			return true
		}
	}
	return false
}

// textOf renders a scalar element as keyword text. Only numbers and
// booleans allocate.
func textOf(e *ecs.Value) (string, bool) {
	if e.Kind == ecs.String {
		return e.Str, true
	}
	return e.Text()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// inFoldSet looks s up in a set of lower-cased strings without allocating
// for short ASCII input.
func inFoldSet(set map[string]struct{}, s string) bool {
	if len(s) <= 256 && isASCII(s) {
		var buf [256]byte
		b := buf[:len(s)]
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		_, ok := set[string(b)]
		return ok
	}
	_, ok := set[strings.ToLower(s)]
	return ok
}

func floatBits(f float64) uint64     { return math.Float64bits(f) }
func floatFromBits(b uint64) float64 { return math.Float64frombits(b) }
