package extension

import (
	"os"
	"runtime/debug"
	"time"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit for the
// extension unless $GOMEMLIMIT sets one: the collector works harder as the
// heap nears it, so a flood does not let the heap double (GOGC's default)
// past what the extension really keeps. It is a soft limit: live data
// beyond it is never refused, only collected more often.
const DefaultMemoryLimit = 96 << 20

// setMemoryLimit applies DefaultMemoryLimit unless the environment sets
// one, and returns the limit in effect.
func setMemoryLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(DefaultMemoryLimit)
	return DefaultMemoryLimit
}

// idleReturn hands the heap's free memory back to the operating system
// when the extension falls idle after reading rows: the collector alone
// returns it only slowly, and an idle sensor should not sit on a flood's
// high-water mark.
type idleReturn struct {
	busyRows int       // rows read since memory was last returned
	last     time.Time // when it was last returned
	// bulky is set when a tick wrote the whole process cache: its
	// serialized copy is tens of megabytes of garbage at once.
	bulky bool
}

// minReturnGap spaces returns, each of which costs a full collection.
const minReturnGap = 10 * time.Second

// observe records one poll tick that read rows rows; when the tick read
// none after busy ones, or wrote the whole process cache, it returns memory
// (at most once per minReturnGap).
func (m *idleReturn) observe(rows int, now time.Time) bool {
	m.busyRows += rows
	due := m.bulky || (rows == 0 && m.busyRows > 0)
	if !due || now.Sub(m.last) < minReturnGap {
		return false
	}
	m.release(now)
	return true
}

// release returns memory now (also after start-up's seeding, whose rows
// are garbage at once).
func (m *idleReturn) release(now time.Time) {
	debug.FreeOSMemory()
	m.busyRows, m.last, m.bulky = 0, now, false
}
