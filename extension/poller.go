package extension

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/detect/timeguard"
)

// Querier runs SQL on the osquery core. CoreClient implements it.
type Querier interface {
	QueryRows(ctx context.Context, sql string) ([]map[string]string, error)
}

// ColumnQuerier also answers with rows decoded for known columns, without
// a map per row. CoreClient implements it.
type ColumnQuerier interface {
	Querier
	// QueryColumns may put the answer in the buffers of reuse, an earlier
	// answer no longer in use (ColumnRows{}: none).
	QueryColumns(ctx context.Context, sql string, columns []string, reuse ColumnRows) (ColumnRows, error)
}

// Source is one osquery event table the poller reads, with the columns it
// names explicitly (hidden columns such as eid are not part of SELECT *).
type Source struct {
	Table   string
	Columns []string
	// NumericEID is set where eid is an INTEGER column (the BPF tables);
	// the audit tables' eid is TEXT.
	NumericEID bool
}

// Audit-based event tables: the sources on every Linux osquery. Each names
// the columns the normalizer reads, and those that make an event's identity
// (uptime, fd: see normalize's identity digest), and no other: every other
// column would cost osquery, Thrift and the decoder for nothing.
var (
	ProcessEventsSource = Source{Table: "process_events", Columns: []string{
		"eid", "time", "uptime", "pid", "parent", "path", "cmdline", "cwd",
		"auid", "uid", "euid", "gid", "egid", "suid", "sgid", "syscall",
	}}
	SocketEventsSource = Source{Table: "socket_events", Columns: []string{
		"eid", "time", "uptime", "action", "pid", "path", "fd", "auid", "family",
		"protocol", "local_address", "remote_address", "local_port", "remote_port",
		"socket", "success", "status",
	}}
	// BPF tables exist only in osquery releases up to 5.23 and only with
	// --enable_bpf_events; the extension reads them only where osquery's
	// registry lists them and the audit tables are inactive.
	BPFProcessEventsSource = Source{Table: "bpf_process_events", Columns: []string{
		"eid", "time", "tid", "pid", "parent", "uid", "gid", "cid", "exit_code",
		"probe_error", "syscall", "path", "cwd", "cmdline", "json_cmdline", "ntime",
	}, NumericEID: true}
	BPFSocketEventsSource = Source{Table: "bpf_socket_events", Columns: []string{
		"eid", "time", "tid", "pid", "parent", "uid", "gid", "cid", "exit_code",
		"probe_error", "syscall", "path", "fd", "family", "type", "protocol",
		"local_address", "remote_address", "local_port", "remote_port", "ntime",
	}, NumericEID: true}
)

// RawRow is one event row as osquery returned it, with its table: the
// columns the normalizer reads, viewing the buffer of the whole answer.
type RawRow struct {
	Table  string
	Time   int64
	EID    string
	Fields *normalize.Fields
}

// Col returns the row's value of column name ("" when absent or not one
// the normalizer reads).
func (r RawRow) Col(name string) string { return r.Fields.Get(normalize.ColOf(name)) }

// Mark is where reading stopped inside one second of one table: after the
// Dup rows whose eid is EID (eids are unique per table in osquery, so Dup
// is 1 unless a core repeats one).
type Mark struct {
	EID string
	Dup int
}

// Cursor is the durable reading position: every event with time < Time has
// been handed to the engine, and so has every event at second Time that
// comes, in the order osquery's SQL sorts eids, before After[table] (and
// its Dup rows of that eid). After is set only while a second holding more
// rows than one query may return is being read in parts.
type Cursor struct {
	Time  int64
	After map[string]Mark
}

// TableRead is what one poll saw of one table.
type TableRead struct {
	Rows      int   // rows returned by osquery
	Delivered int   // rows handed on (complete seconds)
	Malformed int   // rows skipped because time was unusable (each counted once)
	Capped    bool  // the query hit the row limit
	NewestSec int64 // newest time seen, 0 when no rows
	// Waiting counts rows of complete seconds (older than the settle
	// window) that this poll returned but did not deliver; with an
	// unmoved cursor it means reading is stalled.
	Waiting int
	// Quarantined counts rows newly found with a time implausibly far
	// ahead of the host's clock (each counted once); they are never
	// delivered and never move the cursor.
	Quarantined    int
	LastQuarantine string
	LastError      string
}

// Page is the result of one poll: the rows of complete seconds, the cursor
// that follows them, and whether more rows are waiting right now. Its rows
// (their Fields and every string they hold) are valid until the next Poll,
// which decodes into the same buffers; Next and the rest stay valid.
type Page struct {
	Rows   []RawRow
	Next   Cursor
	More   bool
	Tables map[string]TableRead
	// MalformedReasons holds one reason per malformed or quarantined row,
	// in order.
	MalformedReasons []string
}

// Poller reads event tables with a time constraint, never reading a second
// before it is complete: osquery stamps events with the second it processed
// their batch, so the newest second may still fill.
//
// Inside a second it pages by eid in the order osquery's SQLite sorts them
// (bytewise for the audit tables' TEXT eids, numerically for the BPF
// tables' INTEGER eids), comparing eids in Go the same way, so that any eid
// format — zero-padded or not, numeric or not — pages without gaps or
// repeats.
//
// Times are untrusted (detect/timeguard's policy for a stream read with a
// clock): the query reads only rows whose time is not ahead of the host's
// clock, so a row stamped in the future moves nothing; rows beyond the
// clock's bound are counted once as quarantined.
type Poller struct {
	q       ColumnQuerier
	sources []Source
	// MaxRows caps the rows one query may return, bounding memory when a
	// flood arrives; the rest is read by following polls.
	MaxRows int
	// Settle is how many seconds behind the wall clock a second must be to
	// count as complete when no newer event has been seen.
	Settle int64
	// Now is the clock (tests replace it).
	Now func() time.Time
	// ClockSkew bounds how far ahead of the clock a row's time may lie
	// before it is quarantined (default timeguard.DefaultClockSkew).
	ClockSkew time.Duration
	// QuarantineEvery is how often the poller looks for quarantined rows
	// (default 10 s of its clock; the first poll always looks).
	QuarantineEvery time.Duration

	malformedSeen   map[string]bool // keys of malformed rows already counted
	quarantineSeen  map[string]bool // keys of quarantined rows already counted
	lastQuarantined time.Time

	// answers holds, per source, the buffers of its last answer, which
	// the next poll decodes into (a page's rows die with the next Poll).
	answers []answerBuffers
	rows    []RawRow // the last page's rows, reused likewise
}

// answerBuffers is the storage of one source's answer: the values, the
// Fields viewing them and the rows.
type answerBuffers struct {
	cols   ColumnRows
	fields []normalize.Fields
	views  []normalize.View
	rows   []RawRow
}

const (
	defaultMaxRows         = 10000
	defaultSettle          = 2
	maxMalformedKeys       = 4096
	defaultQuarantineEvery = 10 * time.Second
	quarantineProbeRows    = 256
)

// NewPoller returns a poller over sources.
func NewPoller(q ColumnQuerier, sources []Source) *Poller {
	return &Poller{q: q, sources: sources, MaxRows: defaultMaxRows, Settle: defaultSettle,
		Now: time.Now, malformedSeen: map[string]bool{}, quarantineSeen: map[string]bool{}}
}

// Sources lists the tables this poller reads.
func (p *Poller) Sources() []Source { return p.sources }

// sqlText quotes s as an SQL string literal.
func sqlText(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// eidLiteral renders eid as SQL for a comparison with the eid column: a
// number for the INTEGER eids of the BPF tables (when it is one), text
// otherwise.
func (src Source) eidLiteral(eid string) string {
	if src.NumericEID {
		if _, err := strconv.ParseInt(eid, 10, 64); err == nil {
			return eid
		}
	}
	return sqlText(eid)
}

// pollSQL renders the query for one source from cursor cur, reading rows
// up to second until (the host clock: later rows are not due yet).
func (p *Poller) pollSQL(src Source, cur Cursor, until int64) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(src.Columns, ", "))
	b.WriteString(" FROM ")
	b.WriteString(src.Table)
	fmt.Fprintf(&b, " WHERE time >= %d AND time <= %d", cur.Time, until)
	limit := p.maxRows()
	if m, ok := cur.After[src.Table]; ok {
		// >= and not >: rows sharing the eid are skipped by count, so that
		// a repeated eid is neither lost nor read twice.
		fmt.Fprintf(&b, " AND (time > %d OR eid >= %s)", cur.Time, src.eidLiteral(m.EID))
		limit += max(m.Dup, 0)
	}
	fmt.Fprintf(&b, " ORDER BY time, eid LIMIT %d", limit)
	return b.String()
}

// quarantineSQL finds rows stamped beyond the guard's bound.
func (p *Poller) quarantineSQL(src Source, limit int64) string {
	return fmt.Sprintf("SELECT eid, time FROM %s WHERE time > %d ORDER BY time, eid LIMIT %d", src.Table, limit, quarantineProbeRows)
}

func (p *Poller) maxRows() int {
	if p.MaxRows <= 0 {
		return defaultMaxRows
	}
	return p.MaxRows
}

// compareEID orders two eids of src as its SQL ORDER BY eid does: TEXT
// eids bytewise (SQLite's BINARY collation); INTEGER eids numerically,
// numbers before text.
func (src Source) compareEID(a, b string) int {
	if src.NumericEID {
		na, ea := strconv.ParseInt(a, 10, 64)
		nb, eb := strconv.ParseInt(b, 10, 64)
		switch {
		case ea == nil && eb == nil:
			return cmp.Compare(na, nb)
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		}
	}
	return strings.Compare(a, b)
}

type tableResult struct {
	src    Source
	rows   []RawRow
	capped bool
}

// Poll reads every source once from cur. An error reading one table fails
// the whole poll (nothing is delivered, the cursor stays), so seconds are
// only ever delivered complete across tables.
func (p *Poller) Poll(ctx context.Context, cur Cursor) (Page, error) {
	page := Page{Next: cur, Tables: map[string]TableRead{}}
	nowT := p.Now()
	now := nowT.Unix()
	if err := p.quarantine(ctx, &page, nowT); err != nil {
		return page, err
	}
	results := make([]tableResult, 0, len(p.sources))
	if len(p.answers) != len(p.sources) {
		p.answers = make([]answerBuffers, len(p.sources))
	}
	for si, src := range p.sources {
		ab := &p.answers[si]
		raw, err := p.q.QueryColumns(ctx, p.pollSQL(src, cur, now), src.Columns, ab.cols)
		ab.cols = raw
		if err != nil {
			read := page.Tables[src.Table]
			read.LastError = err.Error()
			page.Tables[src.Table] = read
			return page, fmt.Errorf("polling %s from time %d: %w", src.Table, cur.Time, err)
		}
		nrows := raw.Len()
		res := tableResult{src: src, capped: nrows >= p.limitFor(src, cur), rows: slices.Grow(ab.rows[:0], nrows)}
		read := page.Tables[src.Table]
		read.Rows, read.Capped = nrows, res.capped
		skip := 0
		if m, ok := cur.After[src.Table]; ok {
			skip = m.Dup
		}
		var fields []normalize.Fields
		fields, ab.views = raw.FieldsInto(ab.fields, ab.views)
		ab.fields = fields
		for i := range fields {
			f := &fields[i]
			row, reason := p.rawRow(src, f, f.Get(normalize.ColTime), f.Get(normalize.ColEID), cur, now, &skip)
			if reason != "" {
				read.Malformed++
				page.MalformedReasons = append(page.MalformedReasons, reason)
				continue
			}
			if row.Table == "" { // already counted, already delivered, or not due
				continue
			}
			res.rows = append(res.rows, row)
			if row.Time > read.NewestSec {
				read.NewestSec = row.Time
			}
		}
		// The core sorted them already; sorting again guards the pages'
		// bookkeeping against a core that did not.
		byTimeEID := func(a, b RawRow) int {
			if c := cmp.Compare(a.Time, b.Time); c != 0 {
				return c
			}
			return src.compareEID(a.EID, b.EID)
		}
		if !slices.IsSortedFunc(res.rows, byTimeEID) {
			slices.SortStableFunc(res.rows, byTimeEID)
		}
		page.Tables[src.Table] = read
		results = append(results, res)
		ab.rows = res.rows
	}

	settle := max(p.Settle, 1)
	closedBound := now - settle + 1 // seconds below this no longer fill
	bound := int64(-1)
	for _, res := range results {
		var b int64
		switch {
		case res.capped && len(res.rows) > 0:
			b = res.rows[len(res.rows)-1].Time // its last second may be cut short
		case len(res.rows) > 0:
			// A row of second s shows the table's earlier seconds complete
			// (osquery stamps batches in order); rows are never later than
			// the clock, which the query bounds.
			b = max(res.rows[len(res.rows)-1].Time, closedBound)
		default:
			b = closedBound
		}
		if bound < 0 || b < bound {
			bound = b
		}
		page.More = page.More || res.capped
	}
	if bound < 0 {
		bound = closedBound
	}

	var keep func(RawRow) bool
	switch {
	case bound > cur.Time:
		page.Next = Cursor{Time: bound}
		keep = func(r RawRow) bool { return r.Time < bound }
	case cur.Time < closedBound && p.overflowAt(results, cur.Time):
		// One complete second holds more rows than a query returns: hand it
		// on in eid order, part by part.
		next := Cursor{Time: cur.Time, After: map[string]Mark{}}
		for t, m := range cur.After {
			next.After[t] = m
		}
		for _, res := range results {
			for _, r := range res.rows {
				if r.Time != cur.Time {
					continue
				}
				if m, ok := next.After[r.Table]; ok && m.EID == r.EID {
					m.Dup++
					next.After[r.Table] = m
				} else {
					// The cursor outlives the answer's buffer.
					next.After[r.Table] = Mark{EID: strings.Clone(r.EID), Dup: 1}
				}
			}
		}
		page.Next = next
		page.More = true
		keep = func(r RawRow) bool { return r.Time == cur.Time }
	default:
		page.More = false // nothing complete yet; wait for the next tick
		keep = func(RawRow) bool { return false }
	}
	p.deliver(&page, results, keep)
	for _, res := range results {
		read := page.Tables[res.src.Table]
		for _, r := range res.rows {
			if r.Time < closedBound && !keep(r) {
				read.Waiting++
			}
		}
		page.Tables[res.src.Table] = read
	}
	return page, nil
}

// limitFor is the LIMIT pollSQL puts on src's query from cur.
func (p *Poller) limitFor(src Source, cur Cursor) int {
	limit := p.maxRows()
	if m, ok := cur.After[src.Table]; ok {
		limit += max(m.Dup, 0)
	}
	return limit
}

// quarantine looks, now and then, for rows stamped beyond the guard's
// bound and counts each once. Such rows are never read by the poll itself
// (its query stops at the clock).
func (p *Poller) quarantine(ctx context.Context, page *Page, now time.Time) error {
	if !p.quarantineDue(now) {
		return nil
	}
	limit := p.QuarantineLimit(now.Unix())
	for _, src := range p.sources {
		rows, err := p.q.QueryRows(ctx, p.quarantineSQL(src, limit))
		if err != nil {
			page.Tables[src.Table] = TableRead{LastError: err.Error()}
			return fmt.Errorf("looking for %s rows stamped after %d: %w", src.Table, limit, err)
		}
		read := page.Tables[src.Table]
		for _, cols := range rows {
			sec, err := strconv.ParseInt(strings.TrimSpace(cols["time"]), 10, 64)
			if err != nil || sec < 0 {
				// Text sorts after every number in SQLite: a time that is
				// not a number shows up here, never in the poll.
				if reason := p.malformed(src.Table, cols["eid"], cols["time"]); reason != "" {
					read.Malformed++
					page.MalformedReasons = append(page.MalformedReasons, reason)
				}
				continue
			}
			key := src.Table + "\x00" + cols["eid"] + "\x00" + cols["time"]
			if p.quarantineSeen[key] {
				continue
			}
			if len(p.quarantineSeen) >= maxMalformedKeys {
				clear(p.quarantineSeen)
			}
			p.quarantineSeen[key] = true
			reason := fmt.Sprintf("%s row eid %q quarantined: time %d (%s) is %s ahead of the host's clock, over the %s bound",
				src.Table, truncate(cols["eid"], 32), sec, stamp(sec), time.Duration(sec-now.Unix())*time.Second, p.clockSkew())
			read.Quarantined++
			read.LastQuarantine = reason
			page.MalformedReasons = append(page.MalformedReasons, reason)
		}
		page.Tables[src.Table] = read
	}
	p.lastQuarantined = now
	return nil
}

// quarantineDue reports whether a poll at now looks for quarantined rows.
func (p *Poller) quarantineDue(now time.Time) bool {
	every := p.QuarantineEvery
	if every <= 0 {
		every = defaultQuarantineEvery
	}
	return p.lastQuarantined.IsZero() || now.Sub(p.lastQuarantined) >= every || now.Before(p.lastQuarantined)
}

func (p *Poller) clockSkew() time.Duration {
	if p.ClockSkew <= 0 {
		return timeguard.DefaultClockSkew
	}
	return max(p.ClockSkew, time.Second)
}

// QuarantineLimit is the latest time (Unix seconds) a row may carry at
// clock now; later rows are quarantined.
func (p *Poller) QuarantineLimit(now int64) int64 {
	return now + int64(p.clockSkew()/time.Second)
}

// stamp renders Unix seconds readably (RFC 3339 up to the year 9999).
func stamp(sec int64) string {
	const maxRFC3339 = 253402300799
	if sec < 0 || sec > maxRFC3339 {
		return "out of range"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

func (p *Poller) overflowAt(results []tableResult, sec int64) bool {
	for _, res := range results {
		if res.capped && len(res.rows) > 0 && res.rows[len(res.rows)-1].Time == sec {
			return true
		}
	}
	return false
}

func (p *Poller) deliver(page *Page, results []tableResult, keep func(RawRow) bool) {
	n := 0
	for _, res := range results {
		n += len(res.rows)
	}
	page.Rows = slices.Grow(p.rows[:0], n)
	for _, res := range results {
		n := 0
		for _, r := range res.rows {
			if keep(r) {
				page.Rows = append(page.Rows, r)
				n++
			}
		}
		read := page.Tables[res.src.Table]
		read.Delivered = n
		page.Tables[res.src.Table] = read
	}
	byTime := func(a, b RawRow) int { return cmp.Compare(a.Time, b.Time) }
	if !slices.IsSortedFunc(page.Rows, byTime) {
		slices.SortStableFunc(page.Rows, byTime)
	}
	p.rows = page.Rows
}

// rawRow checks the columns the poller itself relies on. It returns a
// reason when the row is malformed and not yet counted, and a zero row with
// no reason when the row must be skipped silently (counted before, at the
// cursor second and already delivered, or not due yet). skip counts down
// the rows at the cursor's mark already delivered.
func (p *Poller) rawRow(src Source, f *normalize.Fields, ts, eid string, cur Cursor, now int64, skip *int) (RawRow, string) {
	table := src.Table
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil || sec < 0 {
		return RawRow{}, p.malformed(table, eid, ts)
	}
	if sec < cur.Time || sec > now {
		return RawRow{}, "" // the core ignored the time constraint
	}
	if m, ok := cur.After[table]; ok && sec == cur.Time {
		switch c := src.compareEID(eid, m.EID); {
		case c < 0:
			return RawRow{}, "" // delivered in an earlier part
		case c == 0 && *skip > 0:
			*skip--
			return RawRow{}, ""
		}
	}
	return RawRow{Table: table, Time: sec, EID: eid, Fields: f}, ""
}

// malformed returns why a row with an unusable time is skipped, or ""
// when that row was counted before: it comes back on every read.
func (p *Poller) malformed(table, eid, ts string) string {
	key := table + "\x00" + eid + "\x00" + ts
	if p.malformedSeen[key] {
		return ""
	}
	if len(p.malformedSeen) >= maxMalformedKeys {
		clear(p.malformedSeen)
	}
	p.malformedSeen[key] = true
	return fmt.Sprintf("%s row eid %q skipped: time %q is not a number of seconds", table, truncate(eid, 32), truncate(ts, 32))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
