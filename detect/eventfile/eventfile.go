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
	// MaxLine bounds one JSON line (default 16 MiB).
	MaxLine int
}

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
		opts.MaxLine = 16 << 20
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

func readArray(br *bufio.Reader, source string, opts Options) ([]Event, []error, error) {
	counter := &lineCounter{r: br}
	dec := json.NewDecoder(counter)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, &Error{source, 1, "invalid JSON array: " + err.Error()}
	}
	var events []Event
	var errs []error
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The array is broken from here on: report and stop.
			errs = append(errs, &Error{source, counter.lineAt(dec.InputOffset()), "invalid JSON: " + err.Error()})
			return events, errs, nil
		}
		// The element ends at the decoder's offset; it starts len(raw) before.
		line := counter.lineAt(dec.InputOffset() - int64(len(raw)))
		ev, err := parseEvent(raw, opts)
		if err != nil {
			errs = append(errs, &Error{source, line, err.Error()})
			continue
		}
		ev.Line = line
		events = append(events, ev)
	}
	if _, err := dec.Token(); err != nil {
		errs = append(errs, &Error{source, counter.lineAt(dec.InputOffset()), "invalid JSON array end: " + err.Error()})
	}
	return events, errs, nil
}

// lineCounter remembers where each line starts so a decoder offset can be
// turned into a line number.
type lineCounter struct {
	r      io.Reader
	offset int64
	starts []int64 // offsets of line starts after the first
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			c.starts = append(c.starts, c.offset+int64(i)+1)
		}
	}
	c.offset += int64(n)
	return n, err
}

func (c *lineCounter) lineAt(off int64) int {
	return sort.Search(len(c.starts), func(i int) bool { return c.starts[i] > off }) + 1
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
	ev, err := ecs.FromJSON(obj)
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
