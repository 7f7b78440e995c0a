package osqlog

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// Line templates: osquery's filesystem logger writes every line of one
// query in the same shape — the same keys in the same order, the same
// punctuation — and only the values change. When the scanner has read a
// line of the usual event shape (a "columns" object, no arrays, no escapes,
// no nested values but decorations and columns), it may keep that shape as
// a template: the bytes between the values, word for word, and what each
// value is. A later line is first matched against the template of its
// query: each literal is compared as a whole and each value is read to its
// end, with no key read, looked up or checked again. A line that departs
// from the template in any byte of a literal, or in the kind of a value,
// is read by the scanner as before.
//
// A line that matches has, byte for byte, the keys, order and punctuation
// of a line the scanner accepted, and values of the same kinds (a string
// without special bytes, a strict JSON number), so the scanner would accept
// it and read the same values into the same places: the template gives the
// scanner's answer without its work. FuzzTemplateMatchesScanner holds the
// two to the same rows.

// lineTemplate is the shape of one line.
type lineTemplate struct {
	vals []templateValue // their literals and keys view the template's copy of its line
	end  literal         // what follows the last value, to the line's end
	name string          // the query name, when the first value is it
	// table is the table of every line that matches, when name is set:
	// what inferTable makes of the name and the template's columns.
	table string
	// needsEID is set when the template leaves out columns
	// normalize.Unread names: a line whose eid is empty then goes to the
	// scanner, which keeps them.
	needsEID bool
	// hits and misses count the lines that matched and that departed
	// from it after their start did (see parseTemplate).
	hits, misses int
}

// templateValue is one value of a template: the literal before it, its
// kind and where it goes.
type templateValue struct {
	lit    literal
	number bool // a JSON number; else a string, read from after its opening quote
	dest   templateDest
	col    normalize.Col // dest destColumn
	key    string        // dest destOther: the column's name
}

// literal is a run of a line's bytes between two values. Most are a key
// with its quotes and separators, eight to sixteen bytes, compared as two
// words that overlap (first and last eight bytes): cheaper than a call to
// the runtime's general comparison.
type literal struct {
	b           []byte
	first, last uint64 // the first and last eight bytes, when 8 <= len(b) <= 16
}

func newLiteral(b []byte) literal {
	l := literal{b: b}
	if len(b) >= 8 && len(b) <= 16 {
		l.first = binary.LittleEndian.Uint64(b)
		l.last = binary.LittleEndian.Uint64(b[len(b)-8:])
	}
	return l
}

// at reports whether line holds l at i.
func (l *literal) at(line []byte, i int) bool {
	n := len(l.b)
	if len(line)-i < n {
		return false
	}
	if n >= 8 && n <= 16 {
		return binary.LittleEndian.Uint64(line[i:]) == l.first && binary.LittleEndian.Uint64(line[i+n-8:]) == l.last
	}
	return string(line[i:i+n]) == string(l.b)
}

type templateDest uint8

const (
	destSkip templateDest = iota
	destName
	destHostIdentifier
	destAction
	destHostUUID
	destUnixTime
	destDecoHostUUID
	destColumn
	destOther
)

// Limits on what is learned and kept.
const (
	maxTemplates      = 8
	maxTemplateValues = 128
	// maxTemplateLine bounds the line a template keeps a copy of (osquery's
	// event lines are a kilobyte or a few), so templates hold at most
	// maxTemplates of them.
	maxTemplateLine = 64 << 10
	// maxTemplateMisses is how many lines may depart from a template
	// before it is dropped, when more than one in eight do.
	maxTemplateMisses = 4
	// Learning costs about a line's reading again, and a few allocations:
	// a reader earns one credit a line and a learning costs learnCost, so
	// lines of ever-changing shapes cost at most 1/learnCost more.
	learnCost      = 64
	maxLearnCredit = maxTemplates * learnCost
)

// parseTemplate reads a line by a template, if one of the line's query
// matches it.
func (r *Reader) parseTemplate(line []byte) (fastLine, bool) {
	tried := 0
	for i, t := range r.templates {
		if !t.mayMatch(line) {
			continue
		}
		if fl, ok := r.applyTemplate(t, line); ok {
			t.hits++
			if i > 0 { // the most recently used first
				r.templates[0], r.templates[i] = r.templates[i], r.templates[0]
			}
			return fl, true
		}
		// A template its query's lines keep departing from (values with
		// escapes, shapes that change) costs a read that fails for
		// every line: it is dropped, and the line is not tried further.
		if t.misses++; t.misses > maxTemplateMisses && t.misses*8 > t.hits+t.misses {
			r.templates = slices.Delete(r.templates, i, i+1)
			break
		}
		if tried++; tried == 2 {
			break
		}
	}
	return fastLine{}, false
}

// mayMatch tells, from the line's start, whether t is its query's template.
func (t *lineTemplate) mayMatch(line []byte) bool {
	lit := &t.vals[0].lit
	if !lit.at(line, 0) {
		return false
	}
	if t.name == "" {
		return true
	}
	rest := line[len(lit.b):]
	return len(rest) > len(t.name) && string(rest[:len(t.name)]) == t.name && rest[len(t.name)] == '"'
}

// applyTemplate reads line by t into the first Fields, as parseFast would.
func (r *Reader) applyTemplate(t *lineTemplate, b []byte) (fl fastLine, ok bool) {
	if len(r.fields) == 0 {
		r.fields = append(r.fields, &normalize.Fields{})
	}
	f := r.fields[0]
	f.Reset()
	r.nfields = 0
	s := &r.fs
	s.b, s.scratch = b, s.scratch[:0]
	i := 0
	for k := range t.vals {
		v := &t.vals[k]
		if !v.lit.at(b, i) {
			return fl, false
		}
		i += len(v.lit.b)
		var val string
		if v.number {
			s.i = i
			if !s.number() {
				return fl, false
			}
			val, i = view(b[i:s.i]), s.i
		} else {
			// Most values are shorter than a word: the first word is
			// tested here, the rest by plainEnd.
			var e int
			if i+8 <= len(b) {
				if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
					e = i + bits.TrailingZeros64(m)>>3
				} else {
					e = plainEnd(b, i+8)
				}
			} else {
				e = plainEnd(b, i)
			}
			if e >= len(b) || b[e] != '"' {
				return fl, false
			}
			val, i = view(b[i:e]), e+1
		}
		if v.dest == destColumn { // most
			f.SetCol(v.col, val)
			continue
		}
		switch v.dest {
		case destName:
			fl.name = val
		case destHostIdentifier:
			fl.hostIdentifier = val
		case destAction:
			fl.action = val
		case destHostUUID:
			fl.hostUUID = val
		case destUnixTime:
			fl.unixTime = val
		case destDecoHostUUID:
			fl.decoHostUUID = val
		case destOther:
			f.SetOther(v.key, val)
		}
	}
	if len(b)-i != len(t.end.b) || !t.end.at(b, i) {
		return fl, false
	}
	if t.needsEID && f.Get(normalize.ColEID) == "" {
		return fl, false
	}
	r.nfields = 1
	fl.hasColumns, fl.nrows, fl.table = true, 1, t.table
	return fl, true
}

// maybeLearn keeps the shape of a line the scanner read as fl, if it is
// one a template can hold and the reader has the credit.
func (r *Reader) maybeLearn(line []byte, fl *fastLine) {
	if r.learnCredit < maxLearnCredit {
		r.learnCredit++
	}
	if r.learnCredit < learnCost || !fl.hasColumns || fl.hasDiff || fl.hasSnap || fl.nrows != 1 || len(line) > maxTemplateLine {
		return
	}
	t := learnTemplate(line)
	if t == nil {
		return
	}
	r.learnCredit -= learnCost
	if len(r.templates) < maxTemplates {
		r.templates = append(r.templates, nil)
	}
	// The newest goes first; the least recently used falls off the end.
	copy(r.templates[1:], r.templates[:len(r.templates)-1])
	r.templates[0] = t
}

// templateLearner walks a line the scanner accepted and records its shape.
type templateLearner struct {
	s        fastScanner
	litStart int
	t        *lineTemplate
}

// learnTemplate returns line's template, or nil when its shape is not one
// a template holds. line must be one parseFast accepted.
func learnTemplate(line []byte) *lineTemplate {
	// The template's own copy of the line, which nothing writes again:
	// its literals, name and keys view it.
	b := append([]byte(nil), line...)
	l := templateLearner{s: fastScanner{b: b}, t: &lineTemplate{}}
	if !l.object(l.topMember) {
		return nil
	}
	if l.s.ws(); l.s.i != len(b) {
		return nil
	}
	l.t.end = newLiteral(b[l.litStart:])
	if len(l.t.vals) == 0 {
		return nil
	}
	if l.t.vals[0].dest == destName {
		// The name is the first value: its text is right after the first
		// literal.
		start := len(l.t.vals[0].lit.b)
		end := plainEnd(b, start)
		l.t.name = view(b[start:end])
		var cols uint64
		for _, v := range l.t.vals {
			if v.dest == destColumn {
				cols |= 1 << v.col
			}
		}
		l.t.table = inferTable(l.t.name, func(c normalize.Col) bool { return cols&(1<<c) != 0 })
		if cols&(1<<normalize.ColEID) != 0 {
			l.t.leaveOutUnread()
		}
	}
	return l.t
}

// leaveOutUnread has the template skip the columns whose values no event
// of its table reads when the row has an eid (normalize.Unread).
func (t *lineTemplate) leaveOutUnread() {
	for k := range t.vals {
		if v := &t.vals[k]; v.dest == destColumn && normalize.Unread(t.table, v.col) {
			v.dest = destSkip
			t.needsEID = true
		}
	}
}

// plainString reads a string with no special byte and returns its text's
// bounds.
func (l *templateLearner) plainString() (start, end int, ok bool) {
	s := &l.s
	if s.peek() != '"' {
		return 0, 0, false
	}
	start = s.i + 1
	end = plainEnd(s.b, start)
	if end >= len(s.b) || s.b[end] != '"' {
		return 0, 0, false
	}
	s.i = end + 1
	return start, end, true
}

// object walks an object, calling member with each key and the scanner at
// its value.
func (l *templateLearner) object(member func(key string) bool) bool {
	s := &l.s
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		ks, ke, ok := l.plainString()
		if !ok || !s.eat(':') || !member(view(s.b[ks:ke])) {
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

// value records the value the scanner is at: a plain string, or a number
// when numbers is set; with skippable set, true, false and null are left in
// the literal.
func (l *templateLearner) value(v templateValue, numbers, skippable bool) bool {
	if len(l.t.vals) == maxTemplateValues {
		return false
	}
	s := &l.s
	switch c := s.peek(); {
	case c == '"':
		at := s.i
		if _, _, ok := l.plainString(); !ok {
			return false
		}
		v.lit = newLiteral(s.b[l.litStart : at+1])
		l.litStart = s.i
	case c == '-' || c >= '0' && c <= '9':
		at := s.i
		if !numbers || !s.number() {
			return false
		}
		v.number = true
		v.lit = newLiteral(s.b[l.litStart:at])
		l.litStart = s.i
	default:
		if !skippable || v.dest != destSkip {
			return false
		}
		return s.literal("true") || s.literal("false") || s.literal("null")
	}
	l.t.vals = append(l.t.vals, v)
	return true
}

// topMember records a top-level member.
func (l *templateLearner) topMember(key string) bool {
	switch key {
	case "name":
		return l.value(templateValue{dest: destName}, false, false)
	case "hostIdentifier":
		return l.value(templateValue{dest: destHostIdentifier}, false, false)
	case "action":
		return l.value(templateValue{dest: destAction}, false, false)
	case "host_uuid":
		return l.value(templateValue{dest: destHostUUID}, true, false)
	case "unixTime":
		return l.value(templateValue{dest: destUnixTime}, true, false)
	case "decorations":
		return l.object(func(dk string) bool {
			if dk == "host_uuid" {
				return l.value(templateValue{dest: destDecoHostUUID}, true, false)
			}
			return l.value(templateValue{}, true, true)
		})
	case "columns":
		return l.object(func(ck string) bool {
			if c := normalize.ColOf(ck); c != normalize.ColNone {
				return l.value(templateValue{dest: destColumn, col: c}, true, false)
			}
			return l.value(templateValue{dest: destOther, key: ck}, true, false)
		})
	case "diffResults", "snapshot":
		return false
	}
	return l.value(templateValue{}, true, true)
}
