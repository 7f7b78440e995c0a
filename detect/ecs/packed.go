package ecs

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Packed is an event packed into one buffer without pointers: what a
// sequence keeps of the events of its partial matches. Most partial
// matches expire unread, so keeping them must be cheap: one allocation the
// garbage collector never scans, and no write barriers while copying, in
// place of a copy of every field's Value. Unpack restores the event when a
// match completes. The zero Packed holds no event. Packed values compare
// equal when they hold equal events.
type Packed struct {
	s string // the bytes Pack wrote; never written again
}

// Layout: time (8 bytes), seq (8), shape (2), field count (2), then per
// field its id (2) and value; a value is its kind (1) and, for a string,
// a uvarint length and the bytes; for a number or bool, 8 bytes; for an
// array, a uvarint count and the elements; for null, nothing. Integers
// are little-endian.
const packedHeader = 20

// Pack completes e and packs it.
func Pack(e *Event) Packed {
	e.Complete()
	n, size := 0, packedHeader
	for i := range e.compactVals {
		if v := &e.compactVals[i]; v.Kind != Missing {
			n++
			size += 2 + packedSize(v)
		}
	}
	for i := range e.vals {
		if v := &e.vals[i]; v.Kind != Missing {
			n++
			size += 2 + packedSize(v)
		}
	}
	b := make([]byte, packedHeader, size)
	binary.LittleEndian.PutUint64(b[0:], uint64(e.Time))
	binary.LittleEndian.PutUint64(b[8:], e.Seq)
	binary.LittleEndian.PutUint16(b[16:], uint16(e.Shape))
	binary.LittleEndian.PutUint16(b[18:], uint16(n))
	// In Range's order: compact fields, then indexed ones (an event has
	// only one of the two, see Event.expand).
	for i, f := range e.compactIDs {
		if v := &e.compactVals[i]; v.Kind != Missing {
			b = binary.LittleEndian.AppendUint16(b, uint16(f))
			b = appendPacked(b, v)
		}
	}
	for f := range e.vals {
		if v := &e.vals[f]; v.Kind != Missing {
			b = binary.LittleEndian.AppendUint16(b, uint16(f))
			b = appendPacked(b, v)
		}
	}
	// b is not touched again: the string can share its bytes.
	return Packed{s: unsafe.String(&b[0], len(b))}
}

func packedSize(v *Value) int {
	switch v.Kind {
	case String:
		return 1 + uvarintLen(uint64(len(v.Str))) + len(v.Str)
	case Int, Float, Bool:
		return 1 + 8
	case Array:
		n := 1 + uvarintLen(uint64(len(v.Arr)))
		for i := range v.Arr {
			n += packedSize(&v.Arr[i])
		}
		return n
	}
	return 1
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func appendPacked(b []byte, v *Value) []byte {
	b = append(b, byte(v.Kind))
	switch v.Kind {
	case String:
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		b = append(b, v.Str...)
	case Int, Float, Bool:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.num))
	case Array:
		b = binary.AppendUvarint(b, uint64(len(v.Arr)))
		for i := range v.Arr {
			b = appendPacked(b, &v.Arr[i])
		}
	}
	return b
}

// IsZero reports whether p holds no event.
func (p Packed) IsZero() bool { return p.s == "" }

// Time is the packed event's Time.
func (p Packed) Time() int64 { return int64(binary.LittleEndian.Uint64(bytesOf(p.s))) }

// Seq is the packed event's Seq.
func (p Packed) Seq() uint64 { return binary.LittleEndian.Uint64(bytesOf(p.s)[8:]) }

// bytesOf views s as bytes for encoding/binary to read; nothing writes
// through the view.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Unpack returns the event p holds, in compact form. Its strings share p's
// bytes.
func (p Packed) Unpack() *Event {
	e, err := unpack(p.s)
	if err != nil {
		// Only Pack makes a Packed: a buffer it did not write is a bug.
		panic(err)
	}
	return e
}

// unpack decodes s, reporting bytes Pack could not have written.
func unpack(s string) (*Event, error) {
	if len(s) < packedHeader {
		return nil, fmt.Errorf("packed event: %d bytes, shorter than its header", len(s))
	}
	b := bytesOf(s)
	le := binary.LittleEndian
	e := &Event{Time: int64(le.Uint64(b)), Seq: le.Uint64(b[8:]), Shape: ShapeID(le.Uint16(b[16:]))}
	n := int(le.Uint16(b[18:]))
	e.compactIDs = make([]Field, 0, n)
	e.compactVals = make([]Value, 0, n)
	r := packedReader{s: s, b: b, at: packedHeader}
	for i := 0; i < n; i++ {
		if r.at+2 > len(r.b) {
			return nil, fmt.Errorf("packed event: field %d of %d cut off at byte %d", i+1, n, r.at)
		}
		f := Field(le.Uint16(r.b[r.at:]))
		r.at += 2
		if i > 0 && f <= e.compactIDs[i-1] {
			return nil, fmt.Errorf("packed event: field id %d after %d at byte %d", f, e.compactIDs[i-1], r.at-2)
		}
		v, err := r.value(0)
		if err != nil {
			return nil, err
		}
		e.compactIDs = append(e.compactIDs, f)
		e.compactVals = append(e.compactVals, v)
	}
	if r.at != len(r.b) {
		return nil, fmt.Errorf("packed event: %d bytes left after %d fields", len(r.b)-r.at, n)
	}
	return e, nil
}

type packedReader struct {
	s  string // the packing; strings are cut from it
	b  []byte // s viewed as bytes, read only
	at int
}

func (r *packedReader) value(depth int) (Value, error) {
	if r.at >= len(r.b) {
		return Value{}, fmt.Errorf("packed event: value cut off at byte %d", r.at)
	}
	k := Kind(r.b[r.at])
	r.at++
	switch k {
	case Missing:
		if depth == 0 {
			// Pack leaves missing fields out.
			return Value{}, fmt.Errorf("packed event: missing value at byte %d", r.at-1)
		}
		return Value{}, nil
	case Null:
		return Value{Kind: Null}, nil
	case String:
		n, err := r.length()
		if err != nil {
			return Value{}, err
		}
		str := r.s[r.at : r.at+n]
		r.at += n
		return Value{Kind: String, Str: str}, nil
	case Int, Float, Bool:
		if r.at+8 > len(r.b) {
			return Value{}, fmt.Errorf("packed event: number cut off at byte %d", r.at)
		}
		num := int64(binary.LittleEndian.Uint64(r.b[r.at:]))
		r.at += 8
		return Value{Kind: k, num: num}, nil
	case Array:
		if depth > 0 {
			return Value{}, fmt.Errorf("packed event: array inside an array at byte %d", r.at-1)
		}
		n, err := r.length()
		if err != nil {
			return Value{}, err
		}
		arr := make([]Value, n)
		for i := range arr {
			if arr[i], err = r.value(depth + 1); err != nil {
				return Value{}, err
			}
		}
		return Value{Kind: Array, Arr: arr}, nil
	}
	return Value{}, fmt.Errorf("packed event: unknown kind %d at byte %d", k, r.at-1)
}

// length reads a uvarint that counts bytes or elements still to come.
func (r *packedReader) length() (int, error) {
	x, w := binary.Uvarint(r.b[r.at:])
	if w <= 0 || w != uvarintLen(x) {
		return 0, fmt.Errorf("packed event: bad length at byte %d", r.at)
	}
	r.at += w
	if x > uint64(len(r.b)-r.at) {
		return 0, fmt.Errorf("packed event: length %d at byte %d runs past the end", x, r.at-w)
	}
	return int(x), nil
}
