package normalize

import (
	"encoding/binary"
	"unsafe"
)

// A row encoded for a Reorderer's buffers:
//
//	uvarint  length of the rest of the row
//	uvarint  Seq
//	uvarint  len(Table), Table
//	columns: a byte tag (a Col, or 0 followed by uvarint len(name), name),
//	         then uvarint len(value), value
//
// The host is the buffer's.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeRow appends r (without its host) to b.
func encodeRow(b []byte, r *Row) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0) // room for the length, fixed at 5 bytes
	b = binary.AppendUvarint(b, r.Seq)
	b = appendStr(b, r.Table)
	r.Range(func(name, value string) {
		if c := ColOf(name); c != ColNone {
			b = append(b, byte(c))
		} else {
			b = append(b, 0)
			b = appendStr(b, name)
		}
		b = appendStr(b, value)
	})
	n := uint64(len(b) - start - 5)
	for i := 0; i < 5; i++ {
		bt := byte(n & 0x7f)
		n >>= 7
		if i < 4 {
			bt |= 0x80
		}
		b[start+i] = bt
	}
	return b
}

// decodeRows decodes n rows encoded by encodeRow. Each row's strings are
// one new string of its own, so a value the process cache keeps holds only
// its row.
func decodeRows(b []byte, n int, host string) []Row {
	rows := make([]Row, n)
	fields := make([]Fields, n)
	for i := 0; i < n; i++ {
		size, k := binary.Uvarint(b)
		b = b[k:]
		rb := string(b[:size]) // the row's own copy
		b = b[size:]
		f := &fields[i]
		r := &rows[i]
		r.Host, r.Fields = host, f
		seq, k := uvarintStr(rb)
		rb = rb[k:]
		r.Seq = seq
		r.Table, rb = nextStr(rb)
		for len(rb) > 0 {
			tag := Col(rb[0])
			rb = rb[1:]
			var name string
			if tag == ColNone {
				name, rb = nextStr(rb)
			}
			var value string
			value, rb = nextStr(rb)
			if tag != ColNone {
				f.SetCol(tag, value)
			} else {
				f.extra = append(f.extra, name, value)
			}
		}
	}
	return rows
}

func uvarintStr(s string) (uint64, int) {
	return binary.Uvarint(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func nextStr(s string) (string, string) {
	n, k := uvarintStr(s)
	s = s[k:]
	return s[:n], s[n:]
}
