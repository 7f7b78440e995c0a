package normalize

import (
	"encoding/binary"
	"math/bits"
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

// encodeRow appends r (without its host) to b: the columns with a slot
// first, then the others.
func encodeRow(b []byte, r *Row) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0) // room for the length, fixed at 5 bytes
	b = binary.AppendUvarint(b, r.Seq)
	b = appendStr(b, r.Table)
	if f := r.Fields; f != nil {
		for h := f.has; h != 0; h &= h - 1 {
			c := Col(bits.TrailingZeros64(h))
			b = append(b, byte(c))
			b = appendStr(b, f.str(f.span[c]))
		}
		f.rangeOthers(func(name, value string) {
			b = append(b, 0)
			b = appendStr(b, name)
			b = appendStr(b, value)
		})
	} else {
		for c := Col(1); c < numCols; c++ {
			if v, ok := r.Cols[colNames[c]]; ok {
				b = append(b, byte(c))
				b = appendStr(b, v)
			}
		}
		for name, value := range r.Cols {
			if ColOf(name) == ColNone {
				b = append(b, 0)
				b = appendStr(b, name)
				b = appendStr(b, value)
			}
		}
	}
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

// decodeRows decodes n rows encoded by encodeRow. Each row's values are a
// new buffer of its own, so a value the process cache keeps holds only its
// row. The columns without a slot stay encoded until read (Range).
func decodeRows(b []byte, n int, host string) []Row {
	rows := make([]Row, n)
	fields := make([]Fields, n)
	for i := 0; i < n; i++ {
		size, k := binary.Uvarint(b)
		b = b[k:]
		rb := make([]byte, size) // the row's own copy
		copy(rb, b[:size])
		b = b[size:]
		f := &fields[i]
		f.b = rb
		r := &rows[i]
		r.Host, r.Fields = host, f
		seq, k := binary.Uvarint(rb)
		r.Seq = seq
		pos := k
		tn, k := binary.Uvarint(rb[pos:])
		pos += k
		r.Table = tableName(rb[pos : pos+int(tn)])
		pos += int(tn)
		for pos < len(rb) {
			tag := Col(rb[pos])
			if tag == ColNone {
				f.xenc = int32(pos)
				break
			}
			vn, k := binary.Uvarint(rb[pos+1:])
			pos += 1 + k
			f.span[tag] = span{uint32(pos), uint32(vn)}
			f.has |= 1 << tag
			pos += int(vn)
		}
	}
	return rows
}

// tableName returns the table's name, without a copy for the known ones.
func tableName(b []byte) string {
	switch string(b) {
	case TableProcessEvents:
		return TableProcessEvents
	case TableSocketEvents:
		return TableSocketEvents
	case TableBPFProcessEvents:
		return TableBPFProcessEvents
	case TableBPFSocketEvents:
		return TableBPFSocketEvents
	case TableProcesses:
		return TableProcesses
	}
	return string(b)
}

func uvarintStr(s string) (uint64, int) {
	return binary.Uvarint(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func nextStr(s string) (string, string) {
	n, k := uvarintStr(s)
	s = s[k:]
	return s[:n], s[n:]
}
