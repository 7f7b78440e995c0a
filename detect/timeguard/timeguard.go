// Package timeguard judges event times, which are untrusted input: osquery
// stamps its rows with its own clock, and a results log or a tampered
// buffer can carry any number. A row whose time lies far ahead of a
// trusted reference — the host's clock, or the newest time the stream has
// shown so far — is quarantined: counted and reported, never delivered, so
// that it moves no cursor, watermark, sequence clock or new-terms history.
//
// The bound is DefaultMaxAhead (five minutes): far more than the clock
// skew between osquery and a reader on one host (they share the clock) or
// a clock correction by NTP, far less than the hours a single planted
// row would otherwise shift every time-based state by.
package timeguard

import (
	"fmt"
	"time"
)

// DefaultMaxAhead is how far a row's time may lie ahead of the reference
// before it is quarantined.
const DefaultMaxAhead = 5 * time.Minute

// Guard decides whether a time is plausible against a reference time.
// The zero Guard uses DefaultMaxAhead.
type Guard struct {
	// MaxAhead is the bound; 0 means DefaultMaxAhead.
	MaxAhead time.Duration
}

// maxAheadSeconds is the bound in whole seconds (at least 1).
func (g Guard) maxAheadSeconds() int64 {
	d := g.MaxAhead
	if d <= 0 {
		d = DefaultMaxAhead
	}
	return max(int64(d/time.Second), 1)
}

// Limit is the latest plausible time (Unix seconds) given the reference
// ref (Unix seconds): ref + the bound.
func (g Guard) Limit(ref int64) int64 {
	return ref + g.maxAheadSeconds()
}

// Check returns nil when t (Unix seconds) is plausible against ref, else
// an *Error naming both.
func (g Guard) Check(t, ref int64) error {
	if t <= g.Limit(ref) {
		return nil
	}
	return &Error{Time: t, Ref: ref, MaxAhead: time.Duration(g.maxAheadSeconds()) * time.Second}
}

// Error is a quarantined time.
type Error struct {
	Time     int64         // the row's time
	Ref      int64         // the reference it was judged against
	MaxAhead time.Duration // the bound
}

func (e *Error) Error() string {
	return fmt.Sprintf("time %d (%s) is %s ahead of %d (%s), over the %s bound",
		e.Time, stamp(e.Time), time.Duration(e.Time-e.Ref)*time.Second, e.Ref, stamp(e.Ref), e.MaxAhead)
}

// stamp renders Unix seconds readably; times beyond what time.Time renders
// in RFC 3339 are shown as the number only.
func stamp(sec int64) string {
	const maxRFC3339 = 253402300799 // 9999-12-31T23:59:59Z
	if sec < 0 || sec > maxRFC3339 {
		return "out of range"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
