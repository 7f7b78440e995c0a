package osqlog

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// The fast path: a scanner for the JSON osquery's filesystem logger
// writes, which reads a line in one pass without building maps or copying
// values: each value is a view of the line (or, when it has escapes, of a
// scratch buffer). It accepts only what it is sure encoding/json would
// read the same way — an object with string keys, the known keys at most
// once and with the JSON types osquery writes, strict JSON numbers, no
// keys that differ from a known key only in case (encoding/json would
// match them), valid UTF-8 — and leaves every other line to the
// encoding/json path (parseSlow), which then decides, errors included.
// FuzzFastMatchesSlow holds the two paths to the same rows.

// fastScanner walks one line.
type fastScanner struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings of this line
}

// fastLine is what a line holds.
type fastLine struct {
	name, hostIdentifier, action string
	hostUUID, unixTime           string
	decoHostUUID                 string
	hasColumns, hasDiff, hasSnap bool
	removed                      int
	// rows holds the column sets: columns, diffResults.added or snapshot.
	nrows int
	// table, when set, is what inferTable makes of the line (a template
	// knows it).
	table string
}

// Top-level keys, as bits, to refuse a key given twice.
const (
	kName = 1 << iota
	kHostIdentifier
	kHostUUID
	kUnixTime
	kDecorations
	kAction
	kColumns
	kDiffResults
	kSnapshot
)

var topKeys = []string{"name", "hostIdentifier", "host_uuid", "unixTime", "decorations", "action", "columns", "diffResults", "snapshot"}

// topKeyLens has bit n set when a top-level key is n bytes long: a key of
// another length (calendarTime, epoch) cannot fold to one of them.
var topKeyLens = func() (m uint64) {
	for _, k := range topKeys {
		m |= 1 << len(k)
	}
	return m
}()

func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (s *fastScanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fastScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *fastScanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str reads a string at s.i (the opening quote) and returns its text: a
// view of the line, or of scratch when it has escapes.
func (s *fastScanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i + 1
	b := s.b
	j := start
	// Eight bytes at a time to the first special byte, then byte by byte.
	for j+8 <= len(b) {
		if m := specialMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			goto found
		}
		j += 8
	}
	for j < len(b) && !strSpecial[b[j]] {
		j++
	}
found:
	if j < len(b) && b[j] == '"' {
		s.i = j + 1
		return view(b[start:j]), true
	}
	// Escapes, bytes past ASCII or control bytes: the careful loop.
	high, esc := false, false
	for ; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			s.i = j + 1
			raw := b[start:j]
			if esc {
				return s.unescape(b[start-1 : j+1])
			}
			if high && !utf8.Valid(raw) {
				return "", false
			}
			return view(raw), true
		case c == '\\':
			esc = true
			j++ // the escaped byte is never the closing quote
		case c < 0x20:
			return "", false
		case c >= 0x80:
			high = true
		}
	}
	return "", false
}

// plainPair reads `"key":"value"` at s.i as osquery writes a column: no
// space, neither string with an escape, a control byte or a byte past
// ASCII. ok false leaves s.i where it was, for the careful path.
func (s *fastScanner) plainPair() (k, v string, ok bool) {
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return "", "", false
	}
	ke := plainEnd(b, i+1)
	if ke+2 >= len(b) || b[ke] != '"' || b[ke+1] != ':' || b[ke+2] != '"' {
		return "", "", false
	}
	ve := plainEnd(b, ke+3)
	if ve >= len(b) || b[ve] != '"' {
		return "", "", false
	}
	s.i = ve + 1
	return view(b[i+1 : ke]), view(b[ke+3 : ve]), true
}

// plainEnd returns the index of the first special byte (see strSpecial)
// in b from j on, or len(b).
func plainEnd(b []byte, j int) int {
	for j+8 <= len(b) {
		if m := specialMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && !strSpecial[b[j]] {
		j++
	}
	return j
}

// hasSpecial reports whether any of eight bytes is special (see
// strSpecial): a quote, a backslash, below 0x20 or past 0x7f.
func hasSpecial(x uint64) bool { return specialMask(x) != 0 }

// specialMask has the high bit of the first special byte of eight (read
// little-endian) set, and none below it; bits above it mean nothing.
func specialMask(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	// A byte is zero in q (a quote), zero in b (a backslash), below 0x20,
	// or has its high bit: the classic tests, or-ed.
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x | x) & highs
}

// strSpecial marks the bytes that end a string's plain run: the quote,
// the backslash, control bytes and bytes past ASCII.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// unescape decodes a quoted string with escapes through encoding/json, so
// that every escape means exactly what it means there.
func (s *fastScanner) unescape(quoted []byte) (string, bool) {
	if !utf8.Valid(quoted) {
		return "", false
	}
	var v string
	if err := json.Unmarshal(quoted, &v); err != nil {
		return "", false
	}
	// Strings of one line stay alive together in scratch; a grown
	// scratch leaves earlier views on the old array, which stays valid.
	at := len(s.scratch)
	s.scratch = append(s.scratch, v...)
	return view(s.scratch[at:]), true
}

// number reads a JSON number strictly.
func (s *fastScanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	s.i = i
	return true
}

func (s *fastScanner) literal(lit string) bool {
	if strings.HasPrefix(view(s.b[s.i:]), lit) {
		s.i += len(lit)
		return true
	}
	return false
}

// skip reads any value; depth bounds nesting as encoding/json does.
func (s *fastScanner) skip(depth int) bool {
	if depth > 10000 {
		return false
	}
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if _, ok := s.str(); !ok || !s.eat(':') || !s.skip(depth+1) {
				return false
			}
			if s.eat('}') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return s.number()
	}
	return false
}

// scalar reads a value as osquery would have logged it without
// --logger_numerics (see scalarText).
func (s *fastScanner) scalar() (string, bool) {
	if s.peek() == '"' {
		return s.str()
	}
	start := s.i
	if !s.skip(0) {
		return "", false
	}
	if raw := view(s.b[start:s.i]); raw != "null" {
		return raw, true
	}
	return "", true
}

// nullOr reports whether the next value is null (and reads it).
func (s *fastScanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// stringOrNull reads a string field of the line (null leaves it "", as
// encoding/json does).
func (s *fastScanner) stringOrNull() (string, bool) {
	if s.null() {
		return "", true
	}
	return s.str()
}

// object reads an object, calling field for each key with the scanner at
// its value; field reads the value.
func (s *fastScanner) object(field func(key string) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		k, ok := s.str()
		if !ok || !s.eat(':') || !field(k) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// foldsTo reports whether k differs from one of keys only in case (and so
// would be matched to it by encoding/json).
func foldsTo(k string, keys ...string) bool {
	for _, want := range keys {
		if len(k) == len(want) && strings.EqualFold(k, want) {
			return true
		}
	}
	return false
}

// parseFast scans a line into r.rowBuf: by its query's template (see
// template.go) when it matches, else with the scanner. ok false: leave the
// line to parseSlow.
func (r *Reader) parseFast(line []byte) (fl fastLine, ok bool) {
	if len(r.templates) > 0 {
		if fl, ok := r.parseTemplate(line); ok {
			return fl, true
		}
	}
	fl, ok = r.scan(line)
	if ok {
		r.maybeLearn(line, &fl)
	}
	return fl, ok
}

// scan reads a line with the scanner (see parseFast).
func (r *Reader) scan(line []byte) (fl fastLine, ok bool) {
	s := &r.fs
	s.b, s.i, s.scratch = line, 0, s.scratch[:0]
	r.nfields = 0
	seen := 0
	ok = s.object(func(k string) bool {
		bit := 0
		switch k {
		case "name":
			bit = kName
			v, ok := s.stringOrNull()
			fl.name = v
			if !ok {
				return false
			}
		case "hostIdentifier":
			bit = kHostIdentifier
			v, ok := s.stringOrNull()
			fl.hostIdentifier = v
			if !ok {
				return false
			}
		case "action":
			bit = kAction
			v, ok := s.stringOrNull()
			fl.action = v
			if !ok {
				return false
			}
		case "host_uuid":
			bit = kHostUUID
			v, ok := s.scalar()
			fl.hostUUID = v
			if !ok {
				return false
			}
		case "unixTime":
			bit = kUnixTime
			v, ok := s.scalar()
			fl.unixTime = v
			if !ok {
				return false
			}
		case "decorations":
			bit = kDecorations
			if s.null() {
				break
			}
			var got bool
			if !s.object(func(dk string) bool {
				if dk != "host_uuid" {
					return s.skip(1)
				}
				v, ok := s.scalar()
				if got {
					return false // twice: leave it to encoding/json
				}
				got, fl.decoHostUUID = true, v
				return ok
			}) {
				return false
			}
		case "columns":
			bit = kColumns
			if s.null() {
				break
			}
			fl.hasColumns = true
			if !r.columns() {
				return false
			}
		case "snapshot":
			bit = kSnapshot
			if s.null() {
				break
			}
			fl.hasSnap = true
			if !r.rowArray() {
				return false
			}
		case "diffResults":
			bit = kDiffResults
			if s.null() {
				break
			}
			fl.hasDiff = true
			var added, removed bool
			if !s.object(func(dk string) bool {
				switch dk {
				case "added":
					if added {
						return false
					}
					added = true
					return s.null() || r.rowArray()
				case "removed":
					if removed {
						return false
					}
					removed = true
					if s.null() {
						return true
					}
					n, ok := s.countArray()
					fl.removed = n
					return ok
				}
				return !foldsTo(dk, "added", "removed") && s.skip(1)
			}) {
				return false
			}
		default:
			if len(k) < 64 && topKeyLens&(1<<len(k)) == 0 {
				return s.skip(1)
			}
			return !foldsTo(k, topKeys...) && s.skip(1)
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if s.ws(); !ok || s.i != len(s.b) { // anything after the object: leave it to encoding/json
		return fl, false
	}
	// Only one of the row holders may have given rows: with two, the
	// precedence of the slow path's switch is not worth copying.
	n := 0
	for _, h := range []bool{fl.hasColumns, fl.hasDiff, fl.hasSnap} {
		if h {
			n++
		}
	}
	if n > 1 {
		return fl, false
	}
	fl.nrows = r.nfields
	return fl, true
}

// countArray reads an array of any values and counts them.
func (s *fastScanner) countArray() (int, bool) {
	if !s.eat('[') {
		return 0, false
	}
	if s.eat(']') {
		return 0, true
	}
	n := 0
	for {
		if !s.skip(1) {
			return 0, false
		}
		n++
		if s.eat(']') {
			return n, true
		}
		if !s.eat(',') {
			return 0, false
		}
	}
}

// rowArray reads an array of column objects.
func (r *Reader) rowArray() bool {
	s := &r.fs
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for {
		if s.peek() != '{' || !r.columns() {
			return false
		}
		if s.eat(']') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// columns reads one object of columns into the next Fields.
func (r *Reader) columns() bool {
	if r.nfields == len(r.fields) {
		r.fields = append(r.fields, &normalize.Fields{})
	}
	f := r.fields[r.nfields]
	f.Reset()
	r.nfields++
	s := &r.fs
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		k, v, ok := s.plainPair()
		if !ok {
			if s.peek() != '"' {
				return false
			}
			k, ok = s.str()
			if !ok || !s.eat(':') {
				return false
			}
			if s.peek() == '"' {
				v, ok = s.str()
			} else {
				v, ok = s.scalar()
			}
			if !ok {
				return false
			}
		}
		if c := normalize.ColOf(k); c != normalize.ColNone {
			f.SetCol(c, v)
		} else {
			f.SetOther(k, v)
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// rowsFast builds the rows of a scanned line, as parse does (same checks,
// same messages), with Fields that view the line.
func (r *Reader) rowsFast(fl *fastLine) ([]normalize.Row, string) {
	switch {
	case fl.hasDiff:
	case fl.action == "snapshot" || fl.hasSnap:
		if !fl.hasSnap {
			fl.nrows = 0 // columns of a snapshot line are not its rows
		}
	case fl.hasColumns:
		switch fl.action {
		case "added":
		case "removed":
			r.stats.Removed++
			return nil, ""
		case "":
			return nil, "event line has columns but no action"
		default:
			return nil, "event line has unknown action " + quote(fl.action)
		}
	default:
		return nil, "not an osquery result line: it has no columns, diffResults or snapshot"
	}
	r.stats.Removed += fl.removed
	if fl.nrows == 0 {
		return nil, ""
	}
	host := fl.decoHostUUID
	if host == "" {
		host = fl.hostUUID
	}
	if host == "" {
		host = fl.hostIdentifier
	}
	if host == "" {
		return nil, "line has neither decorations.host_uuid nor hostIdentifier"
	}
	table := fl.table
	if table == "" {
		table = inferTable(fl.name, r.fields[0].Has)
	}
	if table == "" {
		return nil, "cannot tell the table of query " + quote(fl.name) + ": its name names no known table and its columns match none"
	}
	rows := r.rowBuf[:0]
	for i := 0; i < fl.nrows; i++ {
		f := r.fields[i]
		if !f.Has(normalize.ColTime) && fl.unixTime != "" {
			f.SetCol(normalize.ColTime, fl.unixTime)
		}
		rows = append(rows, normalize.Row{Table: table, Host: host, Fields: f, Seq: r.seq + uint64(i)})
	}
	r.rowBuf = rows
	r.seq += uint64(len(rows))
	return rows, ""
}
