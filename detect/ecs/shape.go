package ecs

import (
	"sort"
	"sync"
)

// ShapeID names a registered Shape. The zero ShapeID is "unknown": nothing
// is promised about the event, and every rule must look at it.
type ShapeID uint16

// Shape is what a source of events promises about a family of them: the
// fields that always hold one value, and the only fields its events may
// carry. An engine uses the promise to set aside, once per shape, the rules
// that can never match such an event (a network rule for a process start,
// a rule reading fields the source never fills).
type Shape struct {
	// Name identifies the shape in messages and tests.
	Name string
	// Const holds the fields every event of the shape carries with
	// exactly these values.
	Const map[Field]Value
	// Fields are every field an event of the shape may carry; Const's
	// fields are implied. Any other field is always missing.
	Fields []Field

	carries []bool // by Field, Const included
	probe   *Event
}

// Knows reports whether the value of f is the same in every event of the
// shape: v is that value (Missing when the field is never there).
func (s *Shape) Knows(f Field) (v Value, known bool) {
	if c, ok := s.Const[f]; ok {
		return c, true
	}
	if int(f) < len(s.carries) && s.carries[f] {
		return Value{}, false
	}
	return Value{}, true
}

// Probe returns an event holding exactly the shape's constant fields: for
// a condition that reads only fields the shape knows, its verdict on the
// probe is its verdict on every event of the shape. Do not modify it.
func (s *Shape) Probe() *Event { return s.probe }

var shapes struct {
	mu   sync.RWMutex
	list []*Shape
}

// DefineShape registers s and returns its id. Sources define their shapes
// once, at start-up; events they produce carry the id in Event.Shape.
func DefineShape(s Shape) ShapeID {
	def := &Shape{Name: s.Name, Const: make(map[Field]Value, len(s.Const)), probe: &Event{}}
	fields := append([]Field(nil), s.Fields...)
	for f, v := range s.Const {
		def.Const[f] = v
		def.probe.Set(f, v)
		fields = append(fields, f)
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i] < fields[j] })
	for _, f := range fields {
		if len(def.Fields) == 0 || def.Fields[len(def.Fields)-1] != f {
			def.Fields = append(def.Fields, f)
		}
	}
	if n := len(def.Fields); n > 0 {
		def.carries = make([]bool, def.Fields[n-1]+1)
		for _, f := range def.Fields {
			def.carries[f] = true
		}
	}
	shapes.mu.Lock()
	defer shapes.mu.Unlock()
	shapes.list = append(shapes.list, def)
	return ShapeID(len(shapes.list))
}

// ShapeOf returns the shape registered as id, or nil for the unknown shape
// and ids never registered.
func ShapeOf(id ShapeID) *Shape {
	if id == 0 {
		return nil
	}
	shapes.mu.RLock()
	defer shapes.mu.RUnlock()
	if int(id) > len(shapes.list) {
		return nil
	}
	return shapes.list[id-1]
}

// Tri is a three-valued truth: a condition's verdict over every event of a
// shape, when some of the fields it reads are not known.
type Tri int8

// The three verdicts.
const (
	Maybe Tri = iota
	False
	True
)

// TriOf turns a known verdict into a Tri.
func TriOf(b bool) Tri {
	if b {
		return True
	}
	return False
}

// And combines verdicts with Kleene's logic: False wins, then Maybe.
func (t Tri) And(u Tri) Tri {
	switch {
	case t == False || u == False:
		return False
	case t == True && u == True:
		return True
	}
	return Maybe
}

// Or combines verdicts with Kleene's logic: True wins, then Maybe.
func (t Tri) Or(u Tri) Tri {
	switch {
	case t == True || u == True:
		return True
	case t == False && u == False:
		return False
	}
	return Maybe
}

// Not negates a verdict; Maybe stays Maybe.
func (t Tri) Not() Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Maybe
}
