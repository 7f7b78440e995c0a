package ecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Event is one ECS-shaped event. Its fields are indexed by Field; a field
// that was never set reads as Missing.
type Event struct {
	// Time is the event time in Unix milliseconds: the ordering key of
	// sequences and the clock of every window.
	Time int64
	// Seq is the event's position in the input stream: the tiebreaker for
	// events that share a Time.
	Seq uint64
	// Shape is the registered shape the event belongs to, 0 when unknown:
	// the source that filled it promises what ShapeOf(Shape) says.
	Shape ShapeID

	vals []Value // indexed by Field; unset fields are Missing

	// A copy made by Clone is compact instead: only its present fields,
	// ids ascending. Copies are kept (by sequences) far more than read,
	// so they are made small; vals stays empty until a Set.
	compactIDs  []Field
	compactVals []Value

	complete func(*Event) // fills the fields the source deferred; see Defer
	want     Field        // the field whose read called complete (wanted set)
	wanted   bool

	// lowers are the texts LowerASCII lowered, by the address and length
	// of the text lowered: the text of a value never changes in place (a
	// Set stores another), and Reset forgets them. lowerBuf holds the
	// copies.
	lowers   []lowered
	lowerBuf []byte
}

// lowered is one text LowerASCII was asked for and its answer.
type lowered struct {
	p     *byte
	n     int
	low   string
	ascii bool
}

// Bounds on what an event keeps of LowerASCII's work: texts beyond them
// are lowered again on every call.
const (
	maxLowered     = 32
	maxLoweredText = 64 << 10
)

// LowerASCII returns s, the text of a string value of e, with A-Z lowered,
// and whether s is all ASCII (when not, low is not to be used). Each text
// is lowered once for the event however many rules fold it: the answer
// is valid until the event is next Reset.
func (e *Event) LowerASCII(s string) (low string, ascii bool) {
	if len(s) == 0 {
		return s, true
	}
	p := unsafe.StringData(s)
	for i := range e.lowers {
		if l := &e.lowers[i]; l.p == p && l.n == len(s) {
			return l.low, l.ascii
		}
	}
	ascii, hasUpper := ASCIICase(s)
	if !ascii {
		e.remember(lowered{p: p, n: len(s)})
		return "", false
	}
	low = s
	if hasUpper {
		if len(e.lowerBuf)+len(s) > maxLoweredText {
			return strings.ToLower(s), true
		}
		// Appending never moves bytes an earlier answer views: a grown
		// buffer is a new array, and the old one stays as it was.
		start := len(e.lowerBuf)
		e.lowerBuf = AppendLowerASCII(e.lowerBuf, s)
		low = unsafe.String(&e.lowerBuf[start], len(s))
	}
	e.remember(lowered{p: p, n: len(s), low: low, ascii: true})
	return low, true
}

func (e *Event) remember(l lowered) {
	if len(e.lowers) < maxLowered {
		e.lowers = append(e.lowers, l)
	}
}

// Defer records fn as what fills in the fields the event's source left out
// to save time (fields MarkDeferrable names). Complete calls fn once, and
// so does the first read of such a field that the event lacks: then
// Wanted names that field, and fn may fill in only the fields that go
// with it and Defer itself again for the rest. Reset forgets fn.
func (e *Event) Defer(fn func(*Event)) { e.complete = fn }

// Complete fills in the fields the source deferred, if any. Clone, Range
// and MarshalJSON complete the event first.
func (e *Event) Complete() {
	if fn := e.complete; fn != nil {
		e.complete = nil
		fn(e)
	}
}

// Wanted returns, while the function given to Defer runs, the field whose
// read called it; ok is false when Complete did, which wants every field.
func (e *Event) Wanted() (f Field, ok bool) { return e.want, e.wanted }

// deferrable marks the fields a source may leave out until an event is
// completed; written only by MarkDeferrable, at init.
var deferrable []bool

// MarkDeferrable names fields a source may leave out of an event until it
// is completed (see Defer): a read of one the event lacks completes it
// first. Call it from an init function only.
func MarkDeferrable(fs ...Field) {
	for _, f := range fs {
		for int(f) >= len(deferrable) {
			deferrable = append(deferrable, false)
		}
		deferrable[f] = true
	}
}

// fill calls the source's completion for f, a field the event lacks, when
// the source may have left it out; it reports whether it did.
func (e *Event) fill(f Field) bool {
	fn := e.complete
	if fn == nil || int(f) >= len(deferrable) || !deferrable[f] {
		return false
	}
	e.complete = nil
	e.want, e.wanted = f, true
	fn(e)
	e.want, e.wanted = 0, false
	return true
}

// Get returns the value of f, or a Missing value.
func (e *Event) Get(f Field) Value {
	if int(f) < len(e.vals) && (e.vals[f].Kind != Missing || e.complete == nil) {
		return e.vals[f]
	}
	if e.fill(f) && int(f) < len(e.vals) {
		return e.vals[f]
	}
	if v := e.compactRef(f); v != nil {
		return *v
	}
	return Value{}
}

// Ref returns a pointer to the stored value of f, or nil when f is unset.
// It avoids copying on hot paths; the pointer is valid until the next Set.
func (e *Event) Ref(f Field) *Value {
	if int(f) < len(e.vals) && e.vals[f].Kind != Missing {
		return &e.vals[f]
	}
	if e.fill(f) && int(f) < len(e.vals) && e.vals[f].Kind != Missing {
		return &e.vals[f]
	}
	return e.compactRef(f)
}

func (e *Event) compactRef(f Field) *Value {
	ids := e.compactIDs
	lo, hi := 0, len(ids)
	for lo < hi {
		m := (lo + hi) / 2
		if ids[m] < f {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ids) && ids[lo] == f {
		return &e.compactVals[lo]
	}
	return nil
}

// Set stores v in f. Setting a Missing value removes the field.
func (e *Event) Set(f Field, v Value) {
	if int(f) < len(e.vals) {
		e.vals[f] = v
		return
	}
	e.setGrow(f, v)
}

func (e *Event) setGrow(f Field, v Value) {
	if e.compactIDs != nil {
		e.expand()
	}
	if int(f) < len(e.vals) {
		e.vals[f] = v
		return
	}
	if v.Kind == Missing {
		return
	}
	e.grow(f)
	e.vals[f] = v
}

// expand turns a compact event back into an indexed one.
func (e *Event) expand() {
	ids, vals := e.compactIDs, e.compactVals
	e.compactIDs, e.compactVals = nil, nil
	if len(ids) == 0 {
		return
	}
	e.grow(ids[len(ids)-1])
	for i, f := range ids {
		e.vals[f] = vals[i]
	}
}

// grow makes room for field f (and every field registered so far).
func (e *Event) grow(f Field) {
	n := NumFields()
	if n <= int(f) {
		n = int(f) + 1
	}
	if cap(e.vals) >= n {
		e.vals = e.vals[:n]
		return
	}
	grown := make([]Value, n)
	copy(grown, e.vals)
	e.vals = grown
}

// SetStr is Set with a string value; an empty string leaves the field unset.
func (e *Event) SetStr(f Field, s string) {
	if s != "" {
		e.Set(f, Str(s))
	}
}

// Reset clears every field, keeping the storage for reuse.
func (e *Event) Reset() {
	clear(e.vals)
	e.Time, e.Seq, e.Shape = 0, 0, 0
	e.compactIDs, e.compactVals = nil, nil
	e.complete, e.want, e.wanted = nil, 0, false
	e.lowers, e.lowerBuf = e.lowers[:0], e.lowerBuf[:0]
}

// Clone returns a deep enough copy: values are immutable once set, so they
// are shared. The copy is compact: it holds only the present fields.
func (e *Event) Clone() *Event {
	e.Complete()
	c := &Event{Time: e.Time, Seq: e.Seq, Shape: e.Shape}
	if e.compactIDs != nil && len(e.vals) == 0 {
		// Compact storage is never written in place: share it.
		c.compactIDs, c.compactVals = e.compactIDs, e.compactVals
		return c
	}
	n := e.Len()
	c.compactIDs = make([]Field, 0, n)
	c.compactVals = make([]Value, 0, n)
	e.Range(func(f Field, v Value) {
		c.compactIDs = append(c.compactIDs, f)
		c.compactVals = append(c.compactVals, v)
	})
	return c
}

// Range calls fn for every present field, in field id order.
func (e *Event) Range(fn func(Field, Value)) {
	e.Complete()
	for i, f := range e.compactIDs {
		if v := e.compactVals[i]; v.Kind != Missing {
			fn(f, v)
		}
	}
	for f, v := range e.vals {
		if v.Kind != Missing {
			fn(Field(f), v)
		}
	}
}

// Len returns how many fields are set.
func (e *Event) Len() int {
	e.Complete()
	n := 0
	for _, v := range e.compactVals {
		if v.Kind != Missing {
			n++
		}
	}
	for _, v := range e.vals {
		if v.Kind != Missing {
			n++
		}
	}
	return n
}

// MarshalJSON renders the event as nested ECS JSON with sorted keys, the
// shape Elasticsearch stores. "@timestamp" is always present.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil)
}

// AppendJSON appends what MarshalJSON returns to b.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	e.Complete()
	if out, ok := e.appendNestedJSON(b); ok {
		return out, nil
	}
	nested, err := e.marshalNested()
	if err != nil {
		return b, err
	}
	return append(b, nested...), nil
}

// marshalNested builds the nested objects as maps and encodes them; a
// field whose name is a dotted prefix of another's (a scalar where an
// object goes) stays dotted.
func (e *Event) marshalNested() ([]byte, error) {
	root := map[string]any{}
	if e.Get(Timestamp).Kind == Missing {
		root["@timestamp"] = time.UnixMilli(e.Time).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	e.Range(func(f Field, v Value) {
		insertNested(root, f.Name(), toAny(v))
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func insertNested(root map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	m := root
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p]
		if !ok {
			child := map[string]any{}
			m[p] = child
			m = child
			continue
		}
		child, ok := next.(map[string]any)
		if !ok {
			// A scalar already sits where an object would go: keep the
			// rest of the name dotted under the last object.
			m[strings.Join(parts[i:], ".")] = v
			return
		}
		m = child
	}
	last := parts[len(parts)-1]
	if _, clash := m[last].(map[string]any); clash {
		root[name] = v
		return
	}
	m[last] = v
}

func toAny(v Value) any {
	switch v.Kind {
	case String:
		return v.Str
	case Int:
		return v.num
	case Float:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil
		}
		return f
	case Bool:
		return v.num != 0
	case Array:
		out := make([]any, len(v.Arr))
		for i, x := range v.Arr {
			out[i] = toAny(x)
		}
		return out
	}
	return nil
}

// FromJSON builds an event from a decoded JSON object (decoded with
// UseNumber, or plain float64s). Nested objects and dotted keys both map to
// dotted field names, and arrays of objects are flattened the way
// Elasticsearch indexes them: "a.b" over [{"b":1},{"b":2}] is the
// multi-valued field [1, 2]. Values reaching one name by several paths
// ({"a.b":1,"a":{"b":2}}) are merged into one multi-valued field.
func FromJSON(obj map[string]any) (*Event, error) {
	e, _, err := fromJSON(obj, false)
	return e, err
}

// FromJSONSkipping is FromJSON for events whose unknown fields need not be
// kept: a field that cannot be registered because the registry is full is
// skipped and counted instead of failing the event. A query compiled
// beforehand has registered every field it reads, so skipping cannot
// change its answer.
func FromJSONSkipping(obj map[string]any) (*Event, int, error) {
	return fromJSON(obj, true)
}

func fromJSON(obj map[string]any, skip bool) (*Event, int, error) {
	acc := flatAcc{vals: map[string]*flatVal{}}
	if err := acc.object("", obj, false); err != nil {
		return nil, 0, err
	}
	sort.Strings(acc.names)
	e := &Event{}
	skipped := 0
	for _, name := range acc.names {
		fv := acc.vals[name]
		f, ok := FieldOf(name)
		if !ok {
			if skip {
				skipped++
				continue
			}
			return nil, 0, fmt.Errorf("field %q: more than %d distinct field names", name, MaxFields)
		}
		if !fv.array && len(fv.elems) == 1 {
			e.Set(f, fv.elems[0])
		} else {
			e.Set(f, ArrayOf(fv.elems...))
		}
	}
	return e, skipped, nil
}

// flatAcc collects the values of every dotted name of one JSON document.
type flatAcc struct {
	vals  map[string]*flatVal
	names []string
}

type flatVal struct {
	elems []Value
	array bool // some value came from an array: the field is multi-valued
}

func (a *flatAcc) add(name string, v Value, inArray bool) {
	fv := a.vals[name]
	if fv == nil {
		fv = &flatVal{}
		a.vals[name] = fv
		a.names = append(a.names, name)
	}
	if v.Kind == Array {
		fv.elems = append(fv.elems, v.Arr...)
		fv.array = true
		return
	}
	fv.elems = append(fv.elems, v)
	if inArray || len(fv.elems) > 1 {
		fv.array = true
	}
}

func (a *flatAcc) object(prefix string, obj map[string]any, inArray bool) error {
	// Keys in sorted order, so that values merged from several paths
	// come in one order whatever the map's.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := obj[k]
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if err := a.value(name, raw, inArray); err != nil {
			return err
		}
	}
	return nil
}

func (a *flatAcc) value(name string, raw any, inArray bool) error {
	switch x := raw.(type) {
	case map[string]any:
		return a.object(name, x, inArray)
	case []any:
		if len(x) == 0 {
			// An empty array: the field is there, with no value.
			a.add(name, Value{Kind: Array}, true)
			return nil
		}
		for _, el := range x {
			if err := a.value(name, el, true); err != nil {
				return err
			}
		}
		return nil
	}
	v, err := fromAny(raw)
	if err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	a.add(name, v, inArray)
	return nil
}

func fromAny(raw any) (Value, error) {
	switch x := raw.(type) {
	case nil:
		return NullVal(), nil
	case string:
		return Str(x), nil
	case bool:
		return BoolVal(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return IntVal(int64(x)), nil
		}
		return FloatVal(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return IntVal(i), nil
		}
		// Out of range numbers read as the nearest float (±Inf beyond),
		// never as an error: the event stays.
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Value{}, fmt.Errorf("bad number %q", x.String())
		}
		return FloatVal(f), nil
	}
	return Value{}, fmt.Errorf("unsupported JSON value of type %T", raw)
}

// Predicate is a compiled condition over one event.
type Predicate func(*Event) bool
