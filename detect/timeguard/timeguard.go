// Package timeguard decides whether a row's event time is plausible before
// it may move anything that only goes forward: a cursor, a watermark, a
// sequence clock, new-terms history.
//
// osquery's time column is the second a batch was processed on the host,
// so it is only as trustworthy as the host's clock and the log it came
// through. A single row dated in the year 3000 would otherwise hold a
// cursor in the future or mark a new term as seen for centuries. The
// policy, for one stream of rows (one host):
//
//   - a row dated more than ClockSkew past the clock (now) is quarantined;
//   - the first row sets the stream's newest time;
//   - a row dated up to Ahead past the newest time, or older, is admitted
//     (being late moves nothing forward) and may advance the newest time;
//   - a row dated further ahead is held: the stream may really have moved
//     on (a host that was off, a gap in a log). When Confirm rows of that
//     new era (none more than Ahead before its first) have come, the era
//     is admitted and the held rows are released. A later jump to a time
//     more than Ahead before the held era discards it: its rows are
//     quarantined. Rows still held when the stream ends are quarantined
//     (Settle).
//
// A Guard is not safe for concurrent use.
package timeguard

import "time"

// DefaultAhead is the stream's bound when Policy.Ahead is 0: one day. A
// host that was off or idle for longer resumes after one more row; a row
// dated further ahead alone is never admitted, and history windows are
// measured in days (new_terms: 10), so a day is what one can shift them.
const DefaultAhead = 24 * time.Hour

// DefaultClockSkew is the clock's bound when Policy.ClockSkew is 0: one
// hour, well past the skew of clocks kept by NTP and osquery's batching
// delays (seconds).
const DefaultClockSkew = time.Hour

// DefaultConfirm is how many rows admit a new era when Policy.Confirm is
// 0: the row that jumped and one more that follows it.
const DefaultConfirm = 2

// Policy is the bound and the evidence a jump needs.
type Policy struct {
	// Ahead is how far past the stream's newest time a row may be dated.
	Ahead time.Duration
	// ClockSkew is how far past the clock a row may be dated.
	ClockSkew time.Duration
	// Confirm is how many rows of a new era admit it (1 admits any row
	// within the clock bound at once).
	Confirm int
}

// Verdict is what to do with one row.
type Verdict uint8

const (
	// Admit: process the row now.
	Admit Verdict = iota
	// Hold: keep the row aside; a later verdict says whether its era was
	// admitted (Release) or not (Discard).
	Hold
	// Quarantine: the row's time is implausible; count it, process it not.
	Quarantine
)

// Outcome is a verdict and what becomes of the rows held so far.
type Outcome struct {
	Verdict Verdict
	// Release: the rows held so far (and this one, when Verdict is Admit)
	// belong to an admitted era; process them in the order they came.
	Release bool
	// Discard: the rows held so far were a rejected era; they are
	// quarantined (and counted by the Guard).
	Discard int
}

// Stats are a Guard's counters.
type Stats struct {
	// Quarantined rows, and the time of the last one (unix seconds).
	Quarantined     uint64
	LastQuarantined int64
	// Jumps is how many new eras were admitted.
	Jumps uint64
	// Newest is the newest admitted time; -1 before any.
	Newest int64
}

// Guard judges the times of one stream.
type Guard struct {
	ahead   int64
	skew    int64
	confirm int
	newest  int64 // -1 before the first row
	cand    int64 // the candidate era's first time
	candMax int64 // and its newest
	held    int   // rows held for the candidate
	stats   Stats
}

// New returns a Guard with the policy (zero fields take the defaults).
func New(p Policy) *Guard {
	if p.Ahead <= 0 {
		p.Ahead = DefaultAhead
	}
	if p.ClockSkew <= 0 {
		p.ClockSkew = DefaultClockSkew
	}
	if p.Confirm <= 0 {
		p.Confirm = DefaultConfirm
	}
	return &Guard{ahead: int64(p.Ahead / time.Second), skew: int64(p.ClockSkew / time.Second), confirm: p.Confirm, newest: -1}
}

// Judge decides about a row dated t (unix seconds) at clock now (unix
// seconds; 0 when there is no clock to trust, as for a log read later).
func (g *Guard) Judge(t, now int64) Outcome {
	if now > 0 && t > now+g.skew {
		g.quarantine(t)
		return Outcome{Verdict: Quarantine}
	}
	if g.newest < 0 {
		g.newest = t
		return Outcome{Verdict: Admit}
	}
	if t <= g.newest+g.ahead {
		g.newest = max(g.newest, t)
		return Outcome{Verdict: Admit}
	}
	// Ahead of the stream: a row of a new era.
	var out Outcome
	if g.held > 0 && t < g.cand-g.ahead {
		out.Discard = g.held
		g.stats.Quarantined += uint64(g.held)
		g.stats.LastQuarantined = g.cand
		g.held = 0
	}
	if g.held == 0 {
		g.cand, g.candMax = t, t
	}
	g.candMax = max(g.candMax, t)
	g.held++
	if g.held < g.confirm {
		out.Verdict = Hold
		return out
	}
	g.stats.Jumps++
	g.newest = g.candMax
	g.held = 0
	out.Verdict, out.Release = Admit, true
	return out
}

// Held is how many rows wait for their era to be admitted.
func (g *Guard) Held() int { return g.held }

// Settle ends the stream: rows still held never had their era confirmed
// and are quarantined. It returns how many.
func (g *Guard) Settle() int {
	n := g.held
	if n > 0 {
		g.stats.Quarantined += uint64(n)
		g.stats.LastQuarantined = g.cand
		g.held = 0
	}
	return n
}

func (g *Guard) quarantine(t int64) {
	g.stats.Quarantined++
	g.stats.LastQuarantined = t
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	s := g.stats
	s.Newest = g.newest
	return s
}
