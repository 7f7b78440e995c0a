package extension

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// ColumnRows is a query's answer decoded for a known list of columns,
// without a map per row: every value of the answer lives in one buffer
// (whoever keeps a value beyond the answer's use copies it, as the
// process cache and the new-terms history do).
type ColumnRows struct {
	Columns []string
	buf     []byte
	// offs holds, per row and column, the value's offset in buf and its
	// length plus one (0: the row lacks the column).
	offs []uint32
}

// Len is the number of rows.
func (c ColumnRows) Len() int {
	if len(c.Columns) == 0 {
		return 0
	}
	return len(c.offs) / (2 * len(c.Columns))
}

// Value returns row i's value of Columns[j] ("" when the row lacks it).
func (c ColumnRows) Value(i, j int) string {
	k := 2 * (i*len(c.Columns) + j)
	o, n := c.offs[k], c.offs[k+1]
	if n <= 1 {
		return ""
	}
	return unsafe.String(&c.buf[o], int(n-1))
}

// Has reports whether row i has column j.
func (c ColumnRows) Has(i, j int) bool { return c.offs[2*(i*len(c.Columns)+j)+1] > 0 }

// Fields returns every row's columns as Fields viewing the answer's
// buffer: the columns with a normalizer slot in their slots, the others
// by name; a few allocations per answer, none per row.
func (c ColumnRows) Fields() []normalize.Fields {
	fs, _ := c.FieldsInto(nil, nil)
	return fs
}

// FieldsInto is Fields reusing the storage of fs and views (those of an
// earlier answer no longer in use), which it returns for the next one.
func (c ColumnRows) FieldsInto(fs []normalize.Fields, views []normalize.View) ([]normalize.Fields, []normalize.View) {
	n := c.Len()
	cols := make([]normalize.Col, len(c.Columns))
	buf := c.buf
	var names []normalize.View // of the columns without a slot, by column
	others := 0
	for j, name := range c.Columns {
		cols[j] = normalize.ColOf(name)
		if cols[j] == normalize.ColNone {
			others++
		}
	}
	if others > 0 {
		// The names go after the values, in a buffer of the answer's own.
		names = make([]normalize.View, len(c.Columns))
		for j, name := range c.Columns {
			if cols[j] == normalize.ColNone {
				names[j] = normalize.View{Off: uint32(len(buf)), N: uint32(len(name))}
				buf = append(buf, name...)
			}
		}
	}
	fs = normalize.ViewFieldsInto(fs, buf, n)
	var store []normalize.View
	if others > 0 {
		// One array: the row's views being gathered, then every row's.
		need := 2*others + n*2*others
		if cap(views) < need {
			views = make([]normalize.View, need)
		}
		views = views[:need]
		store = views[2*others:]
	}
	scratch := views
	k := 0
	for i := range fs {
		views := scratch[:0]
		for j, col := range cols {
			off, ln := c.offs[k], c.offs[k+1]
			k += 2
			if ln == 0 {
				continue // absent
			}
			if col != normalize.ColNone {
				fs[i].SetView(col, off, ln-1)
			} else {
				views = append(views, names[j], normalize.View{Off: off, N: ln - 1})
			}
		}
		if others > 0 {
			fs[i].SetOtherViews(views, store[i*2*others:(i+1)*2*others])
		}
	}
	return fs, scratch
}

// ColumnsFromMaps converts rows given as maps (how other queriers answer).
func ColumnsFromMaps(columns []string, rows []map[string]string) ColumnRows {
	out := ColumnRows{Columns: columns, offs: make([]uint32, 0, 2*len(rows)*len(columns))}
	for _, r := range rows {
		for _, c := range columns {
			v, ok := r[c]
			if !ok {
				out.offs = append(out.offs, 0, 0)
				continue
			}
			out.offs = append(out.offs, uint32(len(out.buf)), uint32(len(v))+1)
			out.buf = append(out.buf, v...)
		}
	}
	return out
}

// Limits on an answer, so that a broken or hostile peer cannot make the
// decoder allocate without bound.
const (
	maxThriftString = 64 << 20 // one value
	maxThriftDepth  = 32       // nesting of skipped values
	maxThriftRows   = 1 << 22  // rows in one answer
)

var errThriftLimit = errors.New("osquery answer exceeds a decoding limit")

// Thrift binary protocol type ids.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
	tUUID   = 16
)

// columnsResult is the result struct of the extension manager's query
// call (ExtensionManagerQueryResult: field 0 an ExtensionResponse of a
// status and a list of string maps), decoded straight from the buffered
// connection into ColumnRows. It is read by thrift's own client, which
// checks the message envelope (name, sequence id, exceptions) around it.
type columnsResult struct {
	r     *bufio.Reader
	index map[string]int
	// byName lists the columns sorted by name: osqueryd sends each row's
	// keys in that order (its Row is a std::map, osquery/core/sql/row.h),
	// so the next key is nearly always the next name here, found by one
	// comparison instead of a map lookup.
	byName []nameIndex
	out    ColumnRows
	// dups lists the columns named more than once, each with the first
	// column of its name.
	dups      [][2]int
	code      int32
	message   string
	success   bool
	hasStatus bool
	// sizeHint is the previous answer's value bytes, to size the buffer.
	sizeHint int
	// reuse is an earlier answer no longer in use, whose buffers this one
	// may take.
	reuse ColumnRows
}

func (res *columnsResult) Write(context.Context, thrift.TProtocol) error {
	return errors.New("columnsResult is read only")
}

// Read decodes ExtensionManagerQueryResult.
func (res *columnsResult) Read(_ context.Context, _ thrift.TProtocol) error {
	d := decoder{r: res.r}
	for {
		typ, id, err := d.field()
		if err != nil {
			return err
		}
		if typ == tStop {
			return nil
		}
		if id == 0 && typ == tStruct {
			res.success = true
			if err := res.readResponse(&d); err != nil {
				return err
			}
			continue
		}
		if err := d.skip(typ, 0); err != nil {
			return err
		}
	}
}

// readResponse decodes ExtensionResponse{1: status, 2: response}.
func (res *columnsResult) readResponse(d *decoder) error {
	for {
		typ, id, err := d.field()
		if err != nil {
			return err
		}
		switch {
		case typ == tStop:
			return nil
		case id == 1 && typ == tStruct:
			res.hasStatus = true
			err = res.readStatus(d)
		case id == 2 && typ == tList:
			err = res.readRows(d)
		default:
			err = d.skip(typ, 0)
		}
		if err != nil {
			return err
		}
	}
}

// readStatus decodes ExtensionStatus{1: code, 2: message, 3: uuid}.
func (res *columnsResult) readStatus(d *decoder) error {
	for {
		typ, id, err := d.field()
		if err != nil {
			return err
		}
		switch {
		case typ == tStop:
			return nil
		case id == 1 && typ == tI32:
			res.code, err = d.i32()
		case id == 2 && typ == tString:
			var b []byte
			if b, err = d.bytes(nil); err == nil {
				res.message = string(b)
			}
		default:
			err = d.skip(typ, 0)
		}
		if err != nil {
			return err
		}
	}
}

// readRows decodes list<map<string,string>> into res.out.
func (res *columnsResult) readRows(d *decoder) error {
	etype, n, err := d.listHeader()
	if err != nil {
		return err
	}
	if n > maxThriftRows {
		return fmt.Errorf("%w: %d rows (limit %d)", errThriftLimit, n, maxThriftRows)
	}
	if etype != tMap {
		for range n {
			if err := d.skip(etype, 0); err != nil {
				return err
			}
		}
		return nil
	}
	ncol := len(res.out.Columns)
	// Offsets of each value in buf, two per value; 0,0 for absent ones.
	offs := res.reuse.offs[:0]
	if want := min(n, 1<<16) * ncol * 2; cap(offs) < want {
		offs = make([]uint32, 0, want)
	}
	buf := res.reuse.buf[:0]
	if want := max(res.sizeHint, 4096); cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	res.reuse = ColumnRows{}
	row := make([]uint32, ncol*2)
	for range n {
		clear(row)
		if rowFastPath {
			var ok bool
			if buf, ok = res.rowFromBuffer(d, buf, row); ok {
				offs = append(offs, row...)
				continue
			}
		}
		ktype, vtype, size, err := d.mapHeader()
		if err != nil {
			return err
		}
		clear(row)
		next := 0 // where in byName the next key is expected
		for range size {
			if ktype != tString || vtype != tString {
				if err := d.skip(ktype, 0); err != nil {
					return err
				}
				if err := d.skip(vtype, 0); err != nil {
					return err
				}
				continue
			}
			col, err := d.column(res, &next)
			if err != nil {
				return err
			}
			if col < 0 {
				if err := d.skip(tString, 0); err != nil {
					return err
				}
				continue
			}
			start := len(buf)
			if buf, err = d.bytes(buf); err != nil {
				return err
			}
			if len(buf) > 1<<32-1 {
				return fmt.Errorf("%w: answer over 4 GiB", errThriftLimit)
			}
			if len(buf)-start >= 1<<32-1 {
				return fmt.Errorf("%w: a value over 4 GiB", errThriftLimit)
			}
			row[2*col], row[2*col+1] = uint32(start), uint32(len(buf)-start)+1
		}
		res.copyDups(row)
		offs = append(offs, row...)
	}
	res.sizeHint = len(buf)
	res.out.buf, res.out.offs = buf, offs
	return nil
}

// rowFromBuffer decodes the next row, a map of strings, when the read
// buffer holds all of it, as readRows does (values appended to buf, their
// offsets set in row) but parsing the buffered bytes in place. Anything
// else (a row not all buffered yet, other types, a negative or oversized
// length) it leaves unread for readRows, which reports errors: ok is false
// and buf and row are as they were.
func (res *columnsResult) rowFromBuffer(d *decoder, buf []byte, row []uint32) (_ []byte, ok bool) {
	avail, _ := d.r.Peek(d.r.Buffered())
	if len(avail) < 6 || avail[0] != tString || avail[1] != tString {
		return buf, false
	}
	size := int32(binary.BigEndian.Uint32(avail[2:]))
	if size < 0 {
		return buf, false
	}
	start := len(buf)
	fail := func() ([]byte, bool) {
		clear(row)
		return buf[:start], false
	}
	pos, next := 6, 0
	for range size {
		if len(avail)-pos < 4 {
			return fail()
		}
		kn := int(int32(binary.BigEndian.Uint32(avail[pos:])))
		pos += 4
		if kn < 0 || len(avail)-pos < kn+4 {
			return fail()
		}
		key := avail[pos : pos+kn]
		pos += kn
		vn := int(int32(binary.BigEndian.Uint32(avail[pos:])))
		pos += 4
		if vn < 0 || vn > maxThriftString || len(avail)-pos < vn {
			return fail()
		}
		value := avail[pos : pos+vn]
		pos += vn
		col := res.columnOf(key, &next)
		if col < 0 {
			continue
		}
		if len(buf)+vn >= 1<<32-1 {
			return fail() // over 4 GiB: readRows says so
		}
		row[2*col], row[2*col+1] = uint32(len(buf)), uint32(vn)+1
		buf = append(buf, value...)
	}
	res.copyDups(row)
	_, _ = d.r.Discard(pos)
	return buf, true
}

// rowFastPath lets readRows decode rows in place in the read buffer (off
// only for the tests that compare the two paths).
var rowFastPath = true

type nameIndex struct {
	name string
	col  int
}

// newColumnsResult prepares to decode an answer for columns.
func newColumnsResult(r *bufio.Reader, columns []string) *columnsResult {
	res := &columnsResult{r: r, index: make(map[string]int, len(columns)), out: ColumnRows{Columns: columns}}
	for i, c := range columns {
		if first, dup := res.index[c]; dup {
			res.dups = append(res.dups, [2]int{i, first})
		} else {
			res.index[c] = i
			res.byName = append(res.byName, nameIndex{c, i})
		}
	}
	slices.SortFunc(res.byName, func(a, b nameIndex) int { return strings.Compare(a.name, b.name) })
	return res
}

// decoder reads Thrift's binary protocol from a buffered connection
// without allocating per value.
type decoder struct {
	r *bufio.Reader
}

func (d *decoder) read(n int) ([]byte, error) {
	b, err := d.r.Peek(n)
	if err != nil {
		return nil, fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
	}
	_, _ = d.r.Discard(n)
	return b, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *decoder) i32() (int32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return int32(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])), nil
}

// field reads a field header: its type and, unless it is the stop, id.
func (d *decoder) field() (byte, int16, error) {
	t, err := d.r.ReadByte()
	if err != nil {
		return 0, 0, fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
	}
	if t == tStop {
		return t, 0, nil
	}
	b, err := d.read(2)
	if err != nil {
		return 0, 0, err
	}
	return t, int16(uint16(b[0])<<8 | uint16(b[1])), nil
}

func (d *decoder) size() (int, error) {
	n, err := d.i32()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("reading osquery's answer: negative size %d", n)
	}
	return int(n), nil
}

func (d *decoder) listHeader() (byte, int, error) {
	t, err := d.r.ReadByte()
	if err != nil {
		return 0, 0, fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
	}
	n, err := d.size()
	return t, n, err
}

func (d *decoder) mapHeader() (byte, byte, int, error) {
	b, err := d.read(2)
	if err != nil {
		return 0, 0, 0, err
	}
	kt, vt := b[0], b[1]
	n, err := d.size()
	return kt, vt, n, err
}

// bytes reads a string and appends it to dst.
func (d *decoder) bytes(dst []byte) ([]byte, error) {
	n, err := d.size()
	if err != nil {
		return dst, err
	}
	if n > maxThriftString {
		return dst, fmt.Errorf("%w: a value of %d bytes (limit %d)", errThriftLimit, n, maxThriftString)
	}
	if n <= d.r.Size() {
		// Copied straight from the read buffer.
		b, err := d.read(n)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)[:start+n]
	if _, err := io.ReadFull(d.r, dst[start:]); err != nil {
		return dst[:start], fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
	}
	return dst, nil
}

// column reads a map key and returns its column index, or -1; next is
// where in res.byName the key is expected, and moves past it.
func (d *decoder) column(res *columnsResult, next *int) (int, error) {
	index := res.index
	n, err := d.size()
	if err != nil {
		return -1, err
	}
	if n > d.r.Size() {
		// Longer than the read buffer (never an osquery column name).
		if n > maxThriftString {
			return -1, fmt.Errorf("%w: a column name of %d bytes", errThriftLimit, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(d.r, b); err != nil {
			return -1, fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
		}
		if i, ok := index[string(b)]; ok {
			return i, nil
		}
		return -1, nil
	}
	b, err := d.read(n)
	if err != nil {
		return -1, err
	}
	return res.columnOf(b, next), nil
}

// columnOf returns the column a key names (-1 for none), trying first the
// name expected next in a row (next, which it moves on): osqueryd sends a
// row's keys sorted.
func (res *columnsResult) columnOf(key []byte, next *int) int {
	if k := *next; k < len(res.byName) && res.byName[k].name == string(key) {
		*next = k + 1
		return res.byName[k].col
	}
	if i, ok := res.index[string(key)]; ok {
		*next = len(res.byName) // out of order: no more guessing in this row
		return i
	}
	return -1
}

// copyDups gives each column named more than once the value of the first
// column of its name.
func (res *columnsResult) copyDups(row []uint32) {
	for _, d := range res.dups {
		j, i := d[0], d[1]
		row[2*j], row[2*j+1] = row[2*i], row[2*i+1]
	}
}

// skip reads past one value of type t.
func (d *decoder) skip(t byte, depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("%w: nesting deeper than %d", errThriftLimit, maxThriftDepth)
	}
	var n int
	switch t {
	case tBool, tByte:
		n = 1
	case tI16:
		n = 2
	case tI32:
		n = 4
	case tDouble, tI64:
		n = 8
	case tUUID:
		n = 16
	case tString:
		l, err := d.size()
		if err != nil {
			return err
		}
		n = l
	case tStruct:
		for {
			ft, _, err := d.field()
			if err != nil {
				return err
			}
			if ft == tStop {
				return nil
			}
			if err := d.skip(ft, depth+1); err != nil {
				return err
			}
		}
	case tMap:
		kt, vt, size, err := d.mapHeader()
		if err != nil {
			return err
		}
		for range size {
			if err := d.skip(kt, depth+1); err != nil {
				return err
			}
			if err := d.skip(vt, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tSet, tList:
		et, size, err := d.listHeader()
		if err != nil {
			return err
		}
		for range size {
			if err := d.skip(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("reading osquery's answer: unknown Thrift type %d", t)
	}
	if _, err := d.r.Discard(n); err != nil {
		return fmt.Errorf("reading osquery's answer: %w", unexpectedEOF(err))
	}
	return nil
}
