// Package eventfile reads ECS events for ad-hoc queries: a JSON array of
// objects or JSON lines, with nested or dotted field names, ordered the
// way Elasticsearch's EQL search orders them (timestamp, then tiebreaker,
// then position in the file).
package eventfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// Options name the special fields, as the EQL search API does.
type Options struct {
	// TimestampField holds ISO-8601 strings or epoch-millisecond numbers
	// (default "@timestamp").
	TimestampField string
	// TiebreakerField, when set, orders events that share a timestamp.
	TiebreakerField string
	// RequireTimestamp rejects events without a timestamp.
	RequireTimestamp bool
	// MaxLine bounds one event: a JSON line or an array element (default
	// 4 MiB). Decoding costs several times an event's size in memory.
	MaxLine int
	// MaxTotal bounds the bytes of all events together (default 256 MiB):
	// every event is held, to be ordered.
	MaxTotal int64
}

// DefaultMaxTotal is Options.MaxTotal when unset.
const DefaultMaxTotal = 256 << 20

// TooLargeError reports input beyond Options.MaxTotal.
type TooLargeError struct {
	Source string
	Max    int64
}

func (e *TooLargeError) Error() string {
	size := fmt.Sprintf("%d bytes", e.Max)
	if e.Max >= 1<<20 {
		size = fmt.Sprintf("%d MiB", e.Max>>20)
	}
	return fmt.Sprintf("%s: more than %s of events (all are held to be ordered): split the file", e.Source, size)
}

// DefaultMaxEvent is Options.MaxLine when unset: far above any real
// event, small enough that decoding one stays in tens of megabytes.
const DefaultMaxEvent = 4 << 20

// Event is one event read from the file.
type Event struct {
	*ecs.Event
	// Raw is the event's JSON as written in the file, compacted.
	Raw json.RawMessage
	// Line is where the event starts in the file.
	Line int
}

// Error is a bad event, naming where it is.
type Error struct {
	Source string
	Line   int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason) }

// Read reads every event from r. Bad events are returned as *Error values
// in errs and skipped; err is set only when r itself fails.
func Read(r io.Reader, source string, opts Options) (events []Event, errs []error, err error) {
	if opts.TimestampField == "" {
		opts.TimestampField = "@timestamp"
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxEvent
	}
	if opts.MaxTotal <= 0 {
		opts.MaxTotal = DefaultMaxTotal
	}
	// The special fields are registered before any event can fill the
	// registry.
	if _, ok := ecs.FieldOf(opts.TimestampField); !ok {
		return nil, nil, fmt.Errorf("timestamp field %q: field registry full", opts.TimestampField)
	}
	if opts.TiebreakerField != "" {
		if _, ok := ecs.FieldOf(opts.TiebreakerField); !ok {
			return nil, nil, fmt.Errorf("tiebreaker field %q: field registry full", opts.TiebreakerField)
		}
	}
	br := bufio.NewReader(r)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", source, err)
	}
	if first == '[' {
		events, errs, err = readArray(br, source, opts)
	} else {
		events, errs, err = readLines(br, source, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	sortEvents(events, opts)
	for i := range events {
		events[i].Seq = uint64(i + 1)
	}
	return events, errs, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n', 0xEF, 0xBB, 0xBF: // whitespace and a UTF-8 BOM
			if _, err := br.ReadByte(); err != nil {
				return 0, err
			}
			continue
		}
		return b[0], nil
	}
}

func readLines(br *bufio.Reader, source string, opts Options) ([]Event, []error, error) {
	var events []Event
	var errs []error
	var total int64
	line := 0
	for {
		text, err := readLine(br, opts.MaxLine)
		if len(text) > 0 || err == nil {
			line++
		}
		if errors.Is(err, errLineTooLong) {
			errs = append(errs, &Error{source, line, fmt.Sprintf("line longer than %d bytes", opts.MaxLine)})
			continue
		}
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("reading %s: %w", source, err)
		}
		if t := bytes.TrimSpace(text); len(t) > 0 {
			if total += int64(len(t)); total > opts.MaxTotal {
				return nil, nil, &TooLargeError{source, opts.MaxTotal}
			}
			ev, perr := parseEvent(t, opts)
			if perr != nil {
				errs = append(errs, &Error{source, line, perr.Error()})
			} else {
				ev.Line = line
				events = append(events, ev)
			}
		}
		if err == io.EOF {
			return events, errs, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its newline; an over-long line is
// consumed and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

// readArray reads the elements of a JSON array one at a time. It scans
// element boundaries itself instead of handing the stream to a JSON
// decoder, so an element longer than MaxLine is skipped (and reported)
// without ever being held in memory.
func readArray(br *bufio.Reader, source string, opts Options) ([]Event, []error, error) {
	sc := &arrayScanner{r: br, line: 1, max: opts.MaxLine}
	if b, err := sc.r.ReadByte(); err != nil || b != '[' {
		return nil, nil, &Error{source, 1, "invalid JSON array"}
	}
	var events []Event
	var errs []error
	var total int64
	for first := true; ; first = false {
		b, err := sc.skipSpace()
		if err == io.EOF {
			errs = append(errs, &Error{source, sc.line, "invalid JSON array end: unexpected end of input"})
			return events, errs, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", source, err)
		}
		if b == ']' && first {
			return events, errs, nil
		}
		if !first {
			switch b {
			case ']':
				return events, errs, nil
			case ',':
				if b, err = sc.skipSpace(); err != nil {
					errs = append(errs, &Error{source, sc.line, "invalid JSON array end: unexpected end of input"})
					return events, errs, nil
				}
			default:
				errs = append(errs, &Error{source, sc.line, fmt.Sprintf("invalid JSON: expected ',' or ']' between elements, found %q", b)})
				return events, errs, nil
			}
		}
		line := sc.line
		raw, tooLong, err := sc.element(b)
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("reading %s: %w", source, err)
		}
		if total += int64(len(raw)); total > opts.MaxTotal {
			return nil, nil, &TooLargeError{source, opts.MaxTotal}
		}
		if tooLong {
			errs = append(errs, &Error{source, line, fmt.Sprintf("array element longer than %d bytes", opts.MaxLine)})
		} else if ev, perr := parseEvent(raw, opts); perr != nil {
			errs = append(errs, &Error{source, line, perr.Error()})
		} else {
			ev.Line = line
			events = append(events, ev)
		}
		if err == io.EOF {
			errs = append(errs, &Error{source, sc.line, "invalid JSON array end: unexpected end of input"})
			return events, errs, nil
		}
	}
}

// arrayScanner finds where the elements of a JSON array begin and end,
// counting lines, keeping at most max bytes of an element.
type arrayScanner struct {
	r    *bufio.Reader
	line int
	max  int
	buf  []byte
}

func (sc *arrayScanner) readByte() (byte, error) {
	b, err := sc.r.ReadByte()
	if err == nil && b == '\n' {
		sc.line++
	}
	return b, err
}

func (sc *arrayScanner) skipSpace() (byte, error) {
	for {
		b, err := sc.readByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, nil
	}
}

// element reads the element starting with first. It returns the element's
// bytes, or tooLong when it exceeds max (its bytes are then discarded as
// they are read). A scalar element ends before the ',' or ']' after it,
// which is put back.
func (sc *arrayScanner) element(first byte) (raw []byte, tooLong bool, err error) {
	sc.buf = sc.buf[:0]
	keep := func(b byte) {
		if tooLong {
			return
		}
		if len(sc.buf) >= sc.max {
			tooLong = true
			sc.buf = sc.buf[:0]
			return
		}
		sc.buf = append(sc.buf, b)
	}
	depth, inString, escaped := 0, false, false
	b := first
	for {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		case depth == 0 && (b == ',' || b == ' ' || b == '\t' || b == '\r' || b == '\n'):
			// The end of a scalar element.
			if b == '\n' {
				sc.line--
			}
			if uerr := sc.r.UnreadByte(); uerr != nil {
				return nil, tooLong, uerr
			}
			return sc.buf, tooLong, nil
		}
		keep(b)
		if depth <= 0 && !inString && (b == '}' || b == ']' || b == '"') {
			if depth < 0 {
				// A stray closing bracket ends the array early.
				sc.buf = sc.buf[:len(sc.buf)-1]
				if uerr := sc.r.UnreadByte(); uerr != nil {
					return nil, tooLong, uerr
				}
			}
			return sc.buf, tooLong, nil
		}
		if b, err = sc.readByte(); err != nil {
			return sc.buf, tooLong, err
		}
	}
}

func parseEvent(raw []byte, opts Options) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Event{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if obj == nil {
		return Event{}, errors.New("event is not a JSON object")
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	// Fields the registry has no room for cannot be ones the query reads
	// (compiling it registered those): they are left out of the matching
	// view, and the event still prints whole from Raw.
	ev, _, err := ecs.FromJSONSkipping(obj)
	if err != nil {
		return Event{}, err
	}
	tsField, _ := ecs.FieldOf(opts.TimestampField)
	ts := ev.Get(tsField)
	if !ts.Exists() {
		if opts.RequireTimestamp {
			return Event{}, fmt.Errorf("missing timestamp field %q", opts.TimestampField)
		}
	} else {
		ms, err := ParseTimestamp(ts)
		if err != nil {
			return Event{}, fmt.Errorf("timestamp field %q: %v", opts.TimestampField, err)
		}
		ev.Time = ms
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return Event{}, fmt.Errorf("invalid JSON: %v", err)
	}
	return Event{Event: ev, Raw: compact.Bytes()}, nil
}

// ParseTimestamp reads an ISO-8601 string or an epoch-millisecond number
// (or numeric string) as Unix milliseconds.
func ParseTimestamp(v ecs.Value) (int64, error) {
	switch v.Kind {
	case ecs.Int:
		return v.Int(), nil
	case ecs.Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("not a finite number")
		}
		return int64(f), nil
	case ecs.String:
		s := strings.TrimSpace(v.Str)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UnixMilli(), nil
			}
		}
		return 0, fmt.Errorf("%q is neither ISO-8601 nor epoch milliseconds", v.Str)
	}
	return 0, fmt.Errorf("a %s is not a timestamp", v.Kind)
}

func sortEvents(events []Event, opts Options) {
	var tb ecs.Field
	useTB := opts.TiebreakerField != ""
	if useTB {
		tb, _ = ecs.FieldOf(opts.TiebreakerField)
	}
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if a.Time != b.Time {
			return a.Time < b.Time
		}
		if useTB {
			return lessValue(a.Get(tb), b.Get(tb))
		}
		return false
	})
}

// lessValue orders tiebreaker values: numbers numerically, strings
// lexically, missing values last.
func lessValue(a, b ecs.Value) bool {
	if !a.Exists() || !b.Exists() {
		return a.Exists() && !b.Exists()
	}
	an, aok := a.Number()
	bn, bok := b.Number()
	if aok && bok {
		return an < bn
	}
	as, _ := a.Text()
	bs, _ := b.Text()
	return as < bs
}
