package extension

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Querier runs SQL on the osquery core. CoreClient implements it.
type Querier interface {
	QueryRows(ctx context.Context, sql string) ([]map[string]string, error)
}

// Source is one osquery event table the poller reads, with the columns it
// names explicitly (hidden columns such as eid are not part of SELECT *).
type Source struct {
	Table   string
	Columns []string
}

// Audit-based event tables: the sources on every Linux osquery.
var (
	ProcessEventsSource = Source{Table: "process_events", Columns: []string{
		"eid", "time", "uptime", "pid", "parent", "path", "mode", "cmdline", "cwd",
		"auid", "uid", "euid", "gid", "egid", "owner_uid", "owner_gid",
		"fsuid", "suid", "fsgid", "sgid", "syscall",
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
	}}
	BPFSocketEventsSource = Source{Table: "bpf_socket_events", Columns: []string{
		"eid", "time", "tid", "pid", "parent", "uid", "gid", "cid", "exit_code",
		"probe_error", "syscall", "path", "fd", "family", "type", "protocol",
		"local_address", "remote_address", "local_port", "remote_port", "ntime",
	}}
)

// RawRow is one event row as osquery returned it, with its table.
type RawRow struct {
	Table string
	Time  int64
	EID   string
	Cols  map[string]string
}

// Cursor is the durable reading position: every event with time < Time has
// been handed to the engine, and so has every event at second Time whose eid
// is not after AfterEID[table]. AfterEID is set only while a second holding
// more rows than one query may return is being read in parts.
type Cursor struct {
	Time     int64             `json:"time"`
	AfterEID map[string]string `json:"after_eid,omitempty"`
}

// TableRead is what one poll saw of one table.
type TableRead struct {
	Rows      int   // rows returned by osquery
	Delivered int   // rows handed on (complete seconds)
	Malformed int   // rows skipped because time was unusable (each counted once)
	Capped    bool  // the query hit the row limit
	NewestSec int64 // newest time seen, 0 when no rows
	LastError string
}

// Page is the result of one poll: the rows of complete seconds, the cursor
// that follows them, and whether more rows are waiting right now.
type Page struct {
	Rows   []RawRow
	Next   Cursor
	More   bool
	Tables map[string]TableRead
	// MalformedReasons holds one reason per malformed row, in order.
	MalformedReasons []string
}

// Poller reads event tables with a time constraint, never reading a second
// before it is complete: osquery stamps events with the second it processed
// their batch, so the newest second may still fill.
type Poller struct {
	q       Querier
	sources []Source
	// MaxRows caps the rows one query may return, bounding memory when a
	// flood arrives; the rest is read by following polls.
	MaxRows int
	// Settle is how many seconds behind the wall clock a second must be to
	// count as complete when no newer event has been seen.
	Settle int64
	// Now is the clock (tests replace it).
	Now func() time.Time

	malformedSeen map[string]bool // keys of malformed rows already counted
}

const (
	defaultMaxRows   = 10000
	defaultSettle    = 2
	maxMalformedKeys = 4096
)

// NewPoller returns a poller over sources.
func NewPoller(q Querier, sources []Source) *Poller {
	return &Poller{q: q, sources: sources, MaxRows: defaultMaxRows, Settle: defaultSettle,
		Now: time.Now, malformedSeen: map[string]bool{}}
}

// Sources lists the tables this poller reads.
func (p *Poller) Sources() []Source { return p.sources }

// pollSQL renders the query for one source from cursor cur.
func (p *Poller) pollSQL(src Source, cur Cursor) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(src.Columns, ", "))
	b.WriteString(" FROM ")
	b.WriteString(src.Table)
	fmt.Fprintf(&b, " WHERE time >= %d", cur.Time)
	if after := cur.AfterEID[src.Table]; after != "" {
		fmt.Fprintf(&b, " AND (time > %d OR eid > '%s')", cur.Time, strings.ReplaceAll(after, "'", "''"))
	}
	fmt.Fprintf(&b, " ORDER BY time, eid LIMIT %d", p.maxRows())
	return b.String()
}

func (p *Poller) maxRows() int {
	if p.MaxRows <= 0 {
		return defaultMaxRows
	}
	return p.MaxRows
}

// eidAfter reports whether eid a comes after eid b. Audit eids are
// zero-padded decimal counters; numbers compare as numbers, anything else as
// text.
func eidAfter(a, b string) bool {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	if ea == nil && eb == nil {
		return na > nb
	}
	return a > b
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
	results := make([]tableResult, 0, len(p.sources))
	for _, src := range p.sources {
		raw, err := p.q.QueryRows(ctx, p.pollSQL(src, cur))
		if err != nil {
			page.Tables[src.Table] = TableRead{LastError: err.Error()}
			return page, fmt.Errorf("polling %s from time %d: %w", src.Table, cur.Time, err)
		}
		res := tableResult{src: src, capped: len(raw) >= p.maxRows()}
		read := TableRead{Rows: len(raw), Capped: res.capped}
		for _, cols := range raw {
			row, reason := p.rawRow(src.Table, cols, cur)
			if reason != "" {
				read.Malformed++
				page.MalformedReasons = append(page.MalformedReasons, reason)
				continue
			}
			if row.Table == "" { // already counted earlier, or already delivered
				continue
			}
			res.rows = append(res.rows, row)
			if row.Time > read.NewestSec {
				read.NewestSec = row.Time
			}
		}
		sort.SliceStable(res.rows, func(i, j int) bool {
			a, b := res.rows[i], res.rows[j]
			if a.Time != b.Time {
				return a.Time < b.Time
			}
			return eidAfter(b.EID, a.EID)
		})
		page.Tables[src.Table] = read
		results = append(results, res)
	}

	now := p.Now().Unix()
	settle := p.Settle
	if settle < 1 {
		settle = 1
	}
	closedBound := now - settle + 1 // seconds below this no longer fill
	bound := int64(-1)
	for _, res := range results {
		var b int64
		switch {
		case res.capped && len(res.rows) > 0:
			b = res.rows[len(res.rows)-1].Time // its last second may be cut short
		case len(res.rows) > 0:
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

	switch {
	case bound > cur.Time:
		page.Next = Cursor{Time: bound}
		p.deliver(&page, results, func(r RawRow) bool { return r.Time < bound })
	case cur.Time < closedBound && p.overflowAt(results, cur.Time):
		// One complete second holds more rows than a query returns: hand it
		// on in eid order, part by part.
		next := Cursor{Time: cur.Time, AfterEID: map[string]string{}}
		for t, e := range cur.AfterEID {
			next.AfterEID[t] = e
		}
		for _, res := range results {
			for _, r := range res.rows {
				if r.Time == cur.Time {
					next.AfterEID[r.Table] = r.EID
				}
			}
		}
		page.Next = next
		page.More = true
		p.deliver(&page, results, func(r RawRow) bool { return r.Time == cur.Time })
	default:
		page.More = false // nothing complete yet; wait for the next tick
	}
	return page, nil
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
	sort.SliceStable(page.Rows, func(i, j int) bool { return page.Rows[i].Time < page.Rows[j].Time })
}

// rawRow checks the columns the poller itself relies on. It returns a
// reason when the row is malformed and not yet counted, and a zero row with
// no reason when the row must be skipped silently (counted before, or at the
// cursor second and already delivered).
func (p *Poller) rawRow(table string, cols map[string]string, cur Cursor) (RawRow, string) {
	ts := cols["time"]
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil || sec < 0 {
		// A row whose time is not a number sorts after every number in
		// SQLite, so it comes back on every poll: count it once.
		key := table + "\x00" + cols["eid"] + "\x00" + ts
		if p.malformedSeen[key] {
			return RawRow{}, ""
		}
		if len(p.malformedSeen) >= maxMalformedKeys {
			clear(p.malformedSeen)
		}
		p.malformedSeen[key] = true
		return RawRow{}, fmt.Sprintf("%s row eid %q skipped: time %q is not a number of seconds", table, truncate(cols["eid"], 32), truncate(ts, 32))
	}
	eid := cols["eid"]
	if sec < cur.Time {
		return RawRow{}, "" // the core ignored the time constraint; already delivered
	}
	if after := cur.AfterEID[table]; sec == cur.Time && after != "" && !eidAfter(eid, after) {
		return RawRow{}, ""
	}
	return RawRow{Table: table, Time: sec, EID: eid, Cols: cols}, ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
