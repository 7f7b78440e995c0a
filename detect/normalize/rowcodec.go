package normalize

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// A row encoded for a Reorderer's buffers:
//
//	5 bytes  the length of the rest of the row (a padded uvarint)
//	uvarint  Seq
//	uvarint  len(Table), Table
//	the columns, as Fields lays them out
//
// The host is the buffer's.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendColumn appends one column as Fields lay them out.
func appendColumn(b []byte, name, value string) []byte {
	if c := ColOf(name); c != ColNone {
		b = append(b, byte(c))
	} else {
		b = append(b, 0)
		b = appendStr(b, name)
	}
	return appendStr(b, value)
}

// encodeRow appends r (without its host) to b.
func encodeRow(b []byte, r *Row) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0) // room for the length
	b = binary.AppendUvarint(b, r.Seq)
	b = appendStr(b, r.Table)
	switch f := r.Fields; {
	case f != nil && !f.view:
		b = append(b, f.b...)
	case f != nil:
		f.Range(func(name, value string) { b = appendColumn(b, name, value) })
	default:
		for name, value := range r.Cols {
			b = appendColumn(b, name, value)
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

// decodeRows decodes n rows encoded by encodeRow. The rows' columns are
// copied into blocks of at most decodeBlock bytes that the rows share (a
// row larger than that gets a block of its own), so that a value kept
// past its row (the normalizer's cache of split command lines keeps views)
// holds at most one block, and a second of rows costs a few allocations
// instead of one a row.
func decodeRows(chunks [][]byte, n int, host string) []Row {
	rows := make([]Row, n)
	fields := make([]Fields, n)
	left := 0
	for _, c := range chunks {
		left += len(c)
	}
	var block []byte
	var b []byte
	for i := 0; i < n; i++ {
		for len(b) == 0 {
			b, chunks = chunks[0], chunks[1:]
		}
		before := len(b)
		b = decodeRowInto(b, &rows[i], &fields[i], &block, left)
		left -= before - len(b)
		rows[i].Host = host
	}
	return rows
}

// Clone returns a copy of r whose strings are its own: what keeps a row
// a Reorderer emitted past the emit.
func (r Row) Clone() Row {
	return decodeRows([][]byte{encodeRow(nil, &r)}, 1, strings.Clone(r.Host))[0]
}

// viewRows decodes n rows encoded by encodeRow into rows and fields
// (reused, grown as needed, and returned for the next call) as views of
// the chunks: nothing is copied, and the rows are valid only as long as
// the chunks are.
func viewRows(chunks [][]byte, n int, host string, rows []Row, fields []Fields) ([]Row, []Fields) {
	if cap(rows) < n {
		rows = make([]Row, n)
		fields = make([]Fields, n)
	}
	rows, fields = rows[:n], fields[:n]
	var b []byte
	for i := 0; i < n; i++ {
		for len(b) == 0 {
			b, chunks = chunks[0], chunks[1:]
		}
		b = decodeRow(b, &rows[i], &fields[i])
		rows[i].Host = host
	}
	return rows, fields
}

// decodeBlock is the most a block of decodeRows holds.
const decodeBlock = 64 << 10

// decodeRowInto decodes the row at the start of b into r and f, with f's
// columns copied to the end of *block (a new block when they do not fit:
// min(left, decodeBlock) bytes, or the row's own size when larger), and
// returns the rest of b. left is how many encoded bytes remain from b on.
func decodeRowInto(b []byte, r *Row, f *Fields, block *[]byte, left int) []byte {
	rest := decodeRow(b, r, f)
	cols := f.b
	blk := *block
	if cap(blk)-len(blk) < len(cols) {
		blk = make([]byte, 0, max(min(left, decodeBlock), len(cols)))
	}
	start := len(blk)
	blk = append(blk, cols...)
	*block = blk
	// The full slice expression keeps an append to f from writing over
	// the next row's columns.
	f.b = blk[start:len(blk):len(blk)]
	return rest
}

// decodeRow decodes the row at the start of b into r and f and returns
// the rest of b. f views b.
func decodeRow(b []byte, r *Row, f *Fields) []byte {
	size, k := binary.Uvarint(b)
	b = b[k:]
	rb := b[:size]
	b = b[size:]
	seq, k := binary.Uvarint(rb)
	r.Seq = seq
	rb = rb[k:]
	tn, k := binary.Uvarint(rb)
	r.Table = tableName(rb[k : k+int(tn)])
	rb = rb[k+int(tn):]
	f.Reset()
	// The full slice expression keeps an append to f from writing over
	// the next row.
	f.b = rb[:len(rb):len(rb)]
	r.Fields = f
	cols := f.b
	for pos := 0; pos < len(cols); {
		tag := Col(cols[pos])
		if tag != ColNone && pos+1 < len(cols) && cols[pos+1] < 0x80 {
			// A column with a slot and a value under 128 bytes: most.
			vn := int(cols[pos+1])
			pos += 2
			f.span[tag] = span{uint32(pos), uint32(vn)}
			f.has |= 1 << tag
			pos += vn
			continue
		}
		pos++
		if tag == ColNone {
			f.others[0] = 1 // a name without a slot (Range walks them)
			nn, k := binary.Uvarint(cols[pos:])
			pos += k + int(nn)
		}
		vn, k := binary.Uvarint(cols[pos:])
		pos += k
		if tag != ColNone {
			f.span[tag] = span{uint32(pos), uint32(vn)}
			f.has |= 1 << tag
		}
		pos += int(vn)
	}
	return b
}

// RowBatch carries rows from one goroutine to another as bytes: each row
// encoded end to end with its host and where its time column's value is,
// one buffer for the batch, nothing for the collector to trace. The
// receiver can judge a row's time and buffer it (Reorderer.PushEncoded)
// without decoding it.
type RowBatch struct {
	b []byte
	n int
}

// Add appends a copy of r.
func (rb *RowBatch) Add(r Row) {
	rb.b = appendStr(rb.b, r.Host)
	at := len(rb.b)
	rb.b = append(rb.b, 0, 0, 0, 0, 0, 0, 0, 0) // the time's place, below
	start := len(rb.b)
	rb.b = encodeRow(rb.b, &r)
	// The time's value, found in the encoded row, whose columns end it
	// laid out as Fields lay them out: a row with Fields of its own has
	// it at the same place as in them; any other is decoded to find it.
	f := r.Fields
	if f == nil || f.view {
		f = new(Fields)
		decodeRow(rb.b[start:], new(Row), f)
	}
	var off, n uint32
	if f.Has(ColTime) {
		s := f.span[ColTime]
		off, n = uint32(len(rb.b)-len(f.b)-start)+s.off, s.n
	}
	binary.LittleEndian.PutUint32(rb.b[at:], off)
	binary.LittleEndian.PutUint32(rb.b[at+4:], n)
	rb.n++
}

// Len is the number of rows.
func (rb *RowBatch) Len() int { return rb.n }

// Reset empties the batch, keeping its buffer for the next rows.
func (rb *RowBatch) Reset() { rb.b, rb.n = rb.b[:0], 0 }

// BatchRow is a row of a RowBatch, still encoded: its host and its time
// column's text are read; Row decodes the rest.
type BatchRow struct {
	Host string
	Time string // the time column's value, "" when absent
	enc  []byte
}

// Row decodes the row: views of the batch, valid while it is unchanged.
func (br BatchRow) Row() Row {
	var r Row
	decodeRow(br.enc, &r, new(Fields))
	r.Host = br.Host
	return r
}

// Each calls fn with every row in order. A row and its strings are views
// of the batch, valid while fn runs and the batch is unchanged.
func (rb *RowBatch) Each(fn func(BatchRow)) {
	b := rb.b
	for len(b) > 0 {
		hn, k := binary.Uvarint(b)
		host := unsafeString(b[k : k+int(hn)])
		b = b[k+int(hn):]
		off := binary.LittleEndian.Uint32(b)
		n := binary.LittleEndian.Uint32(b[4:])
		b = b[8:]
		size, k := binary.Uvarint(b)
		enc := b[:k+int(size)]
		b = b[k+int(size):]
		fn(BatchRow{Host: host, Time: unsafeString(enc[off : off+n]), enc: enc})
	}
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
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
