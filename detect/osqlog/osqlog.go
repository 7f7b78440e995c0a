// Package osqlog reads osquery's filesystem logger results logs
// (osqueryd.results.log, osqueryd.snapshots.log) into rows for the
// normalizer. Each line is one JSON object in one of three shapes:
//
//   - event format (--logger_event_type=true, the default): one row per
//     line in "columns", with "action" added or removed;
//   - batch format: {"diffResults":{"added":[...],"removed":[...]}, ...};
//   - snapshot format: {"action":"snapshot","snapshot":[...], ...}.
//
// "removed" rows are counted and dropped. A row's host is
// decorations.host_uuid (or a top-level host_uuid, when decorations are
// flattened), else hostIdentifier. Its table is the known table the query
// name contains ("pack/osqdetect/process_events", "pack_x_socket_events"),
// else the one its columns reveal. A bad line yields a *LineError naming
// source:line; reading goes on with the next line.
package osqlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// MaxLineBytes bounds one log line; longer lines are reported and skipped.
const MaxLineBytes = 16 << 20

// LineError says why one line of a log was skipped.
type LineError struct {
	Source string
	Line   int
	Reason string
}

// Error renders the error as "source:line: reason".
func (e *LineError) Error() string {
	return e.Source + ":" + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Stats are a Reader's counters.
type Stats struct {
	Lines    int // lines read, blank ones included
	Rows     int // rows returned
	Removed  int // "removed" rows dropped
	BadLines int // lines skipped with a LineError
	// LastError is the last LineError's message.
	LastError string
}

// Reader reads rows from one results log. It is not safe for concurrent
// use.
type Reader struct {
	br      *bufio.Reader // nil for a Reader of bytes in memory
	mem     []byte        // the input left, for a Reader of bytes in memory
	source  string
	line    int
	seq     uint64
	maxLine int
	buf     []byte
	stats   Stats

	// The fast path's reused state (see fast.go).
	fs      fastScanner
	fields  []*normalize.Fields
	nfields int
	rowBuf  []normalize.Row
	// Templates of the line shapes seen (see template.go), the most
	// recently used first, and the credit left for learning more.
	templates   []*lineTemplate
	learnCredit int
}

// NewReader returns a Reader of r; source names r in errors (a file name).
func NewReader(r io.Reader, source string) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), source: source, maxLine: MaxLineBytes, learnCredit: maxLearnCredit}
}

// NewBytesReader returns a Reader of lines already in memory (a chunk of a
// file cut at line ends): its lines are views of b, read without a copy.
// b must not change while the rows are in use.
func NewBytesReader(b []byte, source string) *Reader {
	return &Reader{mem: b, source: source, maxLine: MaxLineBytes, learnCredit: maxLearnCredit}
}

// ResetBytes makes r read b from its start, its counters started again and
// its working memory kept: one Reader for one chunk after another.
func (r *Reader) ResetBytes(b []byte) {
	r.mem, r.br = b, nil
	r.line, r.stats = 0, Stats{}
}

// SetSeq sets the Seq the next row gets (rows are numbered in file order
// from 0); a caller reading several files in turn continues the count.
func (r *Reader) SetSeq(next uint64) { r.seq = next }

// SetLine sets how many lines come before the reader's input, for a reader
// of part of a file: errors then name lines of the whole file.
func (r *Reader) SetLine(before int) { r.line = before }

// Stats returns the counters.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the rows of the next line that has any. At the end of the
// input it returns io.EOF. A bad line returns a *LineError and no rows; the
// caller may go on calling Next. Any other error is the underlying
// reader's, wrapped. The rows are the caller's, with Cols maps.
func (r *Reader) Next() ([]normalize.Row, error) {
	rows, err := r.NextView()
	if err != nil {
		return nil, err
	}
	out := make([]normalize.Row, len(rows))
	for i, row := range rows {
		out[i] = normalize.Row{Table: row.Table, Host: strings.Clone(row.Host), Seq: row.Seq, Cols: cloneCols(&row)}
	}
	return out, nil
}

func cloneCols(row *normalize.Row) map[string]string {
	if row.Fields == nil {
		return row.Cols
	}
	m := make(map[string]string, row.Fields.Len())
	row.Fields.Range(func(k, v string) { m[strings.Clone(k)] = strings.Clone(v) })
	return m
}

// NextView is Next without copies: the rows, their Fields and every string
// in them are views of the reader's buffers, valid only until the next call.
// A caller that keeps a row copies it (normalize.Reorderer.Push does).
func (r *Reader) NextView() ([]normalize.Row, error) {
	for {
		line, tooLong, err := r.readLine()
		if err == io.EOF && line == nil && !tooLong {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading %s after line %d: %w", r.source, r.line, err)
		}
		r.line++
		r.stats.Lines++
		if tooLong {
			return nil, r.bad("line is longer than " + strconv.Itoa(r.maxLine) + " bytes")
		}
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		rows, reason := r.parse(line)
		if reason != "" {
			return nil, r.bad(reason)
		}
		if len(rows) > 0 {
			r.stats.Rows += len(rows)
			return rows, nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
	}
}

func (r *Reader) bad(reason string) error {
	e := &LineError{Source: r.source, Line: r.line, Reason: reason}
	r.stats.BadLines++
	r.stats.LastError = e.Error()
	return e
}

// readLine returns the next line without its newline. A line over the
// limit is consumed and reported with tooLong, its bytes not kept. At the
// end of input err is io.EOF, with the last unterminated line if any.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	if r.br == nil {
		return r.memLine()
	}
	chunk, err := r.br.ReadSlice('\n')
	if err == nil && len(chunk) <= r.maxLine+1 {
		// The whole line lies in the buffered reader's buffer: returned
		// as it is there (valid until the next read), without a copy.
		return chunk[:len(chunk)-1], false, nil
	}
	r.buf = r.buf[:0]
	got := false
	for {
		if len(chunk) > 0 {
			got = true
			if !tooLong && len(r.buf)+len(chunk) <= r.maxLine+1 { // +1: the newline
				r.buf = append(r.buf, chunk...)
			} else {
				tooLong = true
				r.buf = r.buf[:0]
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			chunk, err = r.br.ReadSlice('\n')
			continue
		case err == io.EOF:
			if !got {
				return nil, false, io.EOF
			}
			return r.buf, tooLong, io.EOF
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimSuffix(r.buf, []byte("\n")), tooLong, nil
	}
}

// memLine is readLine for a Reader of bytes in memory.
func (r *Reader) memLine() (line []byte, tooLong bool, err error) {
	if len(r.mem) == 0 {
		return nil, false, io.EOF
	}
	if i := bytes.IndexByte(r.mem, '\n'); i >= 0 {
		line, r.mem = r.mem[:i], r.mem[i+1:]
	} else {
		line, r.mem, err = r.mem, nil, io.EOF
	}
	if len(line) > r.maxLine {
		return line[:0], true, err
	}
	return line, false, err
}

// logLine is the union of the three line formats.
type logLine struct {
	Name           string                     `json:"name"`
	HostIdentifier string                     `json:"hostIdentifier"`
	HostUUID       json.RawMessage            `json:"host_uuid"`
	UnixTime       json.RawMessage            `json:"unixTime"`
	Decorations    map[string]json.RawMessage `json:"decorations"`
	Action         string                     `json:"action"`
	Columns        map[string]json.RawMessage `json:"columns"`
	DiffResults    *struct {
		Added   []map[string]json.RawMessage `json:"added"`
		Removed []json.RawMessage            `json:"removed"`
	} `json:"diffResults"`
	Snapshot []map[string]json.RawMessage `json:"snapshot"`
}

// parse turns one line into rows, or returns why it cannot: by the fast
// path when it can read the line, else by encoding/json.
func (r *Reader) parse(line []byte) ([]normalize.Row, string) {
	if fl, ok := r.parseFast(line); ok {
		return r.rowsFast(&fl)
	}
	return r.parseSlow(line)
}

// parseSlow reads a line with encoding/json.
func (r *Reader) parseSlow(line []byte) ([]normalize.Row, string) {
	var l logLine
	if err := json.Unmarshal(line, &l); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, "line is a JSON " + te.Value + ", not an object"
			}
			return nil, "field " + strconv.Quote(te.Field) + " is a JSON " + te.Value + ", not the " + jsonKind(te.Type) + " osquery writes"
		}
		return nil, "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	var raw []map[string]json.RawMessage
	switch {
	case l.DiffResults != nil:
		raw = l.DiffResults.Added
		r.stats.Removed += len(l.DiffResults.Removed)
	case l.Action == "snapshot" || l.Snapshot != nil:
		raw = l.Snapshot
	case l.Columns != nil:
		switch l.Action {
		case "added":
			raw = []map[string]json.RawMessage{l.Columns}
		case "removed":
			r.stats.Removed++
			return nil, ""
		case "":
			return nil, "event line has columns but no action"
		default:
			return nil, "event line has unknown action " + strconv.Quote(l.Action)
		}
	default:
		return nil, "not an osquery result line: it has no columns, diffResults or snapshot"
	}
	if len(raw) == 0 {
		return nil, ""
	}
	host := hostOf(&l)
	if host == "" {
		return nil, "line has neither decorations.host_uuid nor hostIdentifier"
	}
	unixTime := scalarText(l.UnixTime)
	rows := make([]normalize.Row, 0, len(raw))
	for i, rc := range raw {
		cols := make(map[string]string, len(rc)+1)
		for k, v := range rc {
			cols[k] = scalarText(v)
		}
		if _, ok := cols["time"]; !ok && unixTime != "" {
			cols["time"] = unixTime
		}
		rows = append(rows, normalize.Row{Host: host, Cols: cols, Seq: r.seq + uint64(i)})
	}
	table := InferTable(l.Name, rows[0].Cols)
	if table == "" {
		return nil, "cannot tell the table of query " + strconv.Quote(l.Name) + ": its name names no known table and its columns match none"
	}
	for i := range rows {
		rows[i].Table = table
	}
	r.seq += uint64(len(rows))
	return rows, ""
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "object"
	case reflect.String:
		return "string"
	}
	return "value"
}

func hostOf(l *logLine) string {
	if v, ok := l.Decorations["host_uuid"]; ok {
		if s := scalarText(v); s != "" {
			return s
		}
	}
	if s := scalarText(l.HostUUID); s != "" {
		return s
	}
	return l.HostIdentifier
}

// scalarText renders a JSON value as the string osquery would have logged
// without --logger_numerics: strings unquoted, numbers and booleans as
// written, null as "", objects and arrays as their JSON text.
func scalarText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			return s
		}
	}
	return string(v)
}

// knownTables are matched against query names longest first, so that
// "bpf_process_events" is not taken for "process_events".
var knownTables = []string{
	normalize.TableBPFProcessEvents,
	normalize.TableBPFSocketEvents,
	normalize.TableProcessEvents,
	normalize.TableSocketEvents,
	normalize.TableProcesses,
}

// InferTable returns the table a query's rows come from: the known table
// its name contains, else the table its columns reveal (syscall and
// cmdline: process_events, plus tid and ntime: bpf_process_events; action
// and remote_address: socket_events; syscall, remote_address and ntime:
// bpf_socket_events; pid, name, path and start_time: processes), else "".
func InferTable(name string, cols map[string]string) string {
	return inferTable(name, func(c normalize.Col) bool {
		_, ok := cols[c.Name()]
		return ok
	})
}

func inferTable(name string, col func(normalize.Col) bool) string {
	for _, t := range knownTables {
		if strings.Contains(name, t) {
			return t
		}
	}
	has := func(cols ...normalize.Col) bool {
		for _, c := range cols {
			if !col(c) {
				return false
			}
		}
		return true
	}
	switch {
	case has(normalize.ColSyscall, normalize.ColRemoteAddress, normalize.ColNtime):
		return normalize.TableBPFSocketEvents
	case has(normalize.ColSyscall, normalize.ColCmdline, normalize.ColTid, normalize.ColNtime):
		return normalize.TableBPFProcessEvents
	case has(normalize.ColSyscall, normalize.ColCmdline):
		return normalize.TableProcessEvents
	case has(normalize.ColAction, normalize.ColRemoteAddress):
		return normalize.TableSocketEvents
	case has(normalize.ColPid, normalize.ColName, normalize.ColPath, normalize.ColStartTime):
		return normalize.TableProcesses
	}
	return ""
}

func quote(s string) string { return strconv.Quote(s) }

// IsLineError reports whether err is a *LineError (the reader can go on).
func IsLineError(err error) bool {
	var le *LineError
	return errors.As(err, &le)
}
