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
//   - a row dated more than Ahead past the clock (now) is quarantined;
//   - a row dated more than Ahead past the newest admitted time is held as a
//     candidate jump: the stream may really have moved on (a host that was
//     off, a gap in a log). Once Confirm rows have agreed on the new era
//     (each within Ahead of the era's first row) it is admitted and the
//     held rows are released; a row of another era in between discards the
//     candidate, whose rows are quarantined;
//   - the first rows of a stream form a candidate era like any other, so a
//     lone forged row cannot become the reference the rest are judged by;
//   - rows older than the newest admitted time are admitted: being late
//     moves nothing forward.
//
// A Guard is not safe for concurrent use.
package timeguard

import "time"

// DefaultAhead is the bound used when Policy.Ahead is 0: one hour, well
// past osquery's batching delays (seconds) and the events_expiry default
// (3600 s), far short of what would poison history windows measured in days.
const DefaultAhead = time.Hour

// DefaultConfirm is how many agreeing rows admit a new era when
// Policy.Confirm is 0.
const DefaultConfirm = 4

// Policy is the bound and the evidence a jump needs.
type Policy struct {
	// Ahead is how far past the clock or the stream's newest admitted time
	// a row may be dated.
	Ahead time.Duration
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
	// Jumps is how many new eras were admitted after the first.
	Jumps uint64
	// Newest is the newest admitted time; -1 before any.
	Newest int64
}

// Guard judges the times of one stream.
type Guard struct {
	ahead   int64
	confirm int
	newest  int64 // -1 until an era is admitted
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
	if p.Confirm <= 0 {
		p.Confirm = DefaultConfirm
	}
	return &Guard{ahead: int64(p.Ahead / time.Second), confirm: p.Confirm, newest: -1}
}

// Judge decides about a row dated t (unix seconds) at clock now (unix
// seconds; 0 when there is no clock to trust, as for a log read later).
func (g *Guard) Judge(t, now int64) Outcome {
	if now > 0 && t > now+g.ahead {
		g.quarantine(t)
		return Outcome{Verdict: Quarantine}
	}
	if g.newest >= 0 && t <= g.newest+g.ahead {
		if t > g.newest {
			g.newest = t
		}
		return Outcome{Verdict: Admit}
	}
	// A new era, or a row of the candidate one.
	var out Outcome
	if g.held > 0 && (t < g.cand || t > g.cand+g.ahead) {
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
	if g.newest >= 0 {
		g.stats.Jumps++
	}
	g.newest = g.candMax
	g.held = 0
	out.Verdict, out.Release = Admit, true
	return out
}

// Held is how many rows wait for their era to be admitted.
func (g *Guard) Held() int { return g.held }

// Settle ends the stream: rows still held are admitted when no era was
// admitted yet (a stream of fewer rows than Confirm has nothing to be
// judged against but the clock, which Judge already applied) and
// quarantined otherwise. It returns whether to release them.
func (g *Guard) Settle() (release bool) {
	if g.held == 0 {
		return false
	}
	if g.newest < 0 {
		g.newest = g.candMax
		g.held = 0
		return true
	}
	g.stats.Quarantined += uint64(g.held)
	g.stats.LastQuarantined = g.cand
	g.held = 0
	return false
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
