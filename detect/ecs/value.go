// Package ecs is the event model every rule runs on: an ECS-shaped event whose
// fields are addressed by small integer ids and whose values may be arrays.
//
// Field names are dotted ECS names ("process.parent.name"). A field id is
// obtained once, at rule compile time, with FieldOf; reading a field of an
// event is then a slice index, which keeps matching allocation-free.
package ecs

import (
	"math"
	"strconv"
	"unsafe"
)

// Kind says what a Value holds.
type Kind uint8

const (
	// Missing is the zero Kind: the event does not have the field.
	Missing Kind = iota
	// Null is an explicit JSON null.
	Null
	String
	Int
	Float
	Bool
	// Array holds its elements in Value.Arr; elements are never arrays.
	Array
)

func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Null:
		return "null"
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Array:
		return "array"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one field value. The zero Value is Missing.
type Value struct {
	Kind Kind
	Str  string
	num  int64 // Int value, Float bits, or Bool as 0/1
	Arr  []Value
}

// Str returns a string value.
func Str(s string) Value { return Value{Kind: String, Str: s} }

// IntVal returns an integer value.
func IntVal(i int64) Value { return Value{Kind: Int, num: i} }

// FloatVal returns a floating point value.
func FloatVal(f float64) Value { return Value{Kind: Float, num: int64(math.Float64bits(f))} }

// BoolVal returns a boolean value.
func BoolVal(b bool) Value {
	if b {
		return Value{Kind: Bool, num: 1}
	}
	return Value{Kind: Bool}
}

// NullVal returns an explicit null.
func NullVal() Value { return Value{Kind: Null} }

// ArrayOf returns an array value. Nested arrays are flattened, as
// Elasticsearch flattens them for matching.
func ArrayOf(elems ...Value) Value {
	flat := elems
	for _, e := range elems {
		if e.Kind == Array {
			flat = make([]Value, 0, len(elems))
			for _, x := range elems {
				if x.Kind == Array {
					flat = append(flat, x.Arr...)
				} else {
					flat = append(flat, x)
				}
			}
			break
		}
	}
	return Value{Kind: Array, Arr: flat}
}

// Strs returns an array of strings.
func Strs(ss []string) Value {
	arr := make([]Value, len(ss))
	for i, s := range ss {
		arr[i] = Value{Kind: String, Str: s}
	}
	return Value{Kind: Array, Arr: arr}
}

// Exists reports whether the field is present and not null. An empty array
// does not exist, as in Elasticsearch.
func (v Value) Exists() bool {
	switch v.Kind {
	case Missing, Null:
		return false
	case Array:
		for _, e := range v.Arr {
			if e.Kind != Null {
				return true
			}
		}
		return false
	}
	return true
}

// Int returns the integer held by an Int, Float (truncated) or Bool value.
func (v Value) Int() int64 {
	switch v.Kind {
	case Int, Bool:
		return v.num
	case Float:
		return int64(math.Float64frombits(uint64(v.num)))
	}
	return 0
}

// Float returns the number held by an Int or Float value.
func (v Value) Float() float64 {
	switch v.Kind {
	case Float:
		return math.Float64frombits(uint64(v.num))
	case Int, Bool:
		return float64(v.num)
	}
	return 0
}

// Bool returns the truth of a Bool value.
func (v Value) Bool() bool { return v.Kind == Bool && v.num != 0 }

// Number reports the value as a float64 when it is numeric, or a string that
// parses as a number (osquery delivers every column as a string).
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case Int, Bool:
		return float64(v.num), true
	case Float:
		return math.Float64frombits(uint64(v.num)), true
	case String:
		f, err := strconv.ParseFloat(v.Str, 64)
		return f, err == nil
	}
	return 0, false
}

// Text renders a scalar as the string a keyword field would hold.
func (v Value) Text() (string, bool) {
	switch v.Kind {
	case String:
		return v.Str, true
	case Int:
		return strconv.FormatInt(v.num, 10), true
	case Float:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), true
	case Bool:
		return strconv.FormatBool(v.num != 0), true
	}
	return "", false
}

// Elems returns the elements to test for "any element" semantics: the
// elements of an array, or the value itself in a one-element slice view.
// The returned slice must not be modified.
func (v *Value) Elems() []Value {
	if v.Kind == Array {
		return v.Arr
	}
	if v.Kind == Missing {
		return nil
	}
	return unsafe.Slice(v, 1)
}

// Equal reports whether two values are the same scalar or the same array.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		if (v.Kind == Int || v.Kind == Float) && (w.Kind == Int || w.Kind == Float) {
			return v.Float() == w.Float()
		}
		return false
	}
	switch v.Kind {
	case String:
		return v.Str == w.Str
	case Array:
		if len(v.Arr) != len(w.Arr) {
			return false
		}
		for i := range v.Arr {
			if !v.Arr[i].Equal(w.Arr[i]) {
				return false
			}
		}
		return true
	}
	return v.num == w.num
}

// Key renders the value as a string usable as a map key: join keys of
// sequences and new-terms tuples. Distinct scalars of different kinds may
// share a key ("1" and 1), as Elasticsearch's keyword coercion does.
func (v Value) Key() string {
	if s, ok := v.Text(); ok {
		return s
	}
	if v.Kind == Array {
		b := make([]byte, 0, 32)
		for i, e := range v.Arr {
			if i > 0 {
				b = append(b, 0)
			}
			s, _ := e.Text()
			b = append(b, s...)
		}
		return string(b)
	}
	return ""
}
