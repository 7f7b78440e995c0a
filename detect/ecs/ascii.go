package ecs

import (
	"encoding/binary"
	"unsafe"
)

// ASCII case folding eight bytes at a time: rules fold the same few
// texts of every event (names, paths, command lines) again and again.

const (
	lo7   = 0x0101010101010101
	hi8   = 0x8080808080808080
	gteA  = (0x80 - 'A') * lo7     // + this sets a byte's top bit when it is >= 'A'
	gtZ   = (0x80 - 'Z' - 1) * lo7 // + this sets a byte's top bit when it is > 'Z'
	upper = 'a' - 'A'
)

// upperMask has the top bit of each byte of w, all ASCII, that is an
// upper-case letter. Adding to bytes under 0x80 never carries into the
// next byte.
func upperMask(w uint64) uint64 { return (w + gteA) &^ (w + gtZ) & hi8 }

// ASCIICase reports whether s is all ASCII and, if so, whether it has an
// upper-case letter (A-Z).
func ASCIICase(s string) (ascii, hasUpper bool) {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	var up uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&hi8 != 0 {
			return false, false
		}
		up |= upperMask(w)
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c >= 0x80 {
			return false, false
		}
		if 'A' <= c && c <= 'Z' {
			up = 1
		}
	}
	return true, up != 0
}

// AppendLowerASCII appends s, which must be ASCII, to b with A-Z lowered.
func AppendLowerASCII(b []byte, s string) []byte {
	start := len(b)
	b = append(b, s...)
	d := b[start:]
	i := 0
	for ; i+8 <= len(d); i += 8 {
		w := binary.LittleEndian.Uint64(d[i:])
		binary.LittleEndian.PutUint64(d[i:], w|upperMask(w)>>2)
	}
	for ; i < len(d); i++ {
		if c := d[i]; 'A' <= c && c <= 'Z' {
			d[i] = c + upper
		}
	}
	return b
}
