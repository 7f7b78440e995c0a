package timeguard

import (
	"testing"
	"time"
)

// step is one row given to a Guard and what must come of it.
type step struct {
	t, now  int64
	verdict Verdict
	release bool
	discard int
}

func TestGuard(t *testing.T) {
	const base = 1_700_000_000
	const year3000 = 32503680000
	tests := []struct {
		name        string
		policy      Policy
		steps       []step
		quarantined uint64
		newest      int64
	}{{
		name:   "a steady stream is admitted once its first rows agree",
		policy: Policy{Confirm: 3},
		steps: []step{
			{t: base, verdict: Hold},
			{t: base + 1, verdict: Hold},
			{t: base + 1, verdict: Admit, release: true},
			{t: base + 2, verdict: Admit},
			{t: base - 100, verdict: Admit}, // late rows move nothing forward
		},
		newest: base + 2,
	}, {
		name:   "a row far past the clock is quarantined, whatever came before",
		policy: Policy{Confirm: 1},
		steps: []step{
			{t: base, now: base, verdict: Admit, release: true},
			{t: year3000, now: base, verdict: Quarantine},
			{t: base + 1, now: base, verdict: Admit},
		},
		quarantined: 1,
		newest:      base + 1,
	}, {
		name:   "a lone forged row ahead of the stream is held, then quarantined when the stream goes on",
		policy: Policy{Confirm: 2},
		steps: []step{
			{t: base, verdict: Hold},
			{t: base + 1, verdict: Admit, release: true},
			{t: base + 86400*30, verdict: Hold},
			{t: base + 2, verdict: Admit},
			{t: base + 3, verdict: Admit},
		},
		quarantined: 0, // still held: Settle decides (see the next case)
		newest:      base + 3,
	}, {
		name:   "a forged first row cannot become the reference",
		policy: Policy{Confirm: 2},
		steps: []step{
			{t: base + 86400*30, verdict: Hold},
			{t: base, verdict: Hold, discard: 1},
			{t: base + 1, verdict: Admit, release: true},
		},
		quarantined: 1,
		newest:      base + 1,
	}, {
		name:   "a real jump (a gap in the log) is admitted once enough rows agree",
		policy: Policy{Confirm: 3, Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Hold},
			{t: base, verdict: Hold},
			{t: base, verdict: Admit, release: true},
			{t: base + 86400, verdict: Hold},
			{t: base + 86401, verdict: Hold},
			{t: base + 86402, verdict: Admit, release: true},
			{t: base + 86403, verdict: Admit},
		},
		newest: base + 86403,
	}, {
		name:   "within the bound nothing is held",
		policy: Policy{Confirm: 2, Ahead: time.Minute},
		steps: []step{
			{t: base, verdict: Hold},
			{t: base + 60, verdict: Admit, release: true},
			{t: base + 120, verdict: Admit},
			{t: base + 181, verdict: Hold},
		},
		newest: base + 120,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := New(tc.policy)
			for i, s := range tc.steps {
				got := g.Judge(s.t, s.now)
				want := Outcome{Verdict: s.verdict, Release: s.release, Discard: s.discard}
				if got != want {
					t.Fatalf("step %d (t=%d): got %+v, want %+v", i, s.t, got, want)
				}
			}
			st := g.Stats()
			if st.Quarantined != tc.quarantined || st.Newest != tc.newest {
				t.Errorf("stats %+v, want quarantined %d newest %d", st, tc.quarantined, tc.newest)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	const base = 1_700_000_000
	// A stream shorter than Confirm: nothing to judge it by but the clock.
	g := New(Policy{Confirm: 4})
	g.Judge(base, 0)
	g.Judge(base+1, 0)
	if !g.Settle() || g.Held() != 0 || g.Stats().Newest != base+1 {
		t.Fatalf("a short stream was not released: %+v", g.Stats())
	}
	// A candidate jump that never gathered its evidence is quarantined.
	g = New(Policy{Confirm: 2})
	g.Judge(base, 0)
	g.Judge(base, 0)
	g.Judge(base+86400*365, 0)
	if g.Settle() || g.Stats().Quarantined != 1 || g.Stats().Newest != base {
		t.Fatalf("an unconfirmed jump was admitted: %+v", g.Stats())
	}
}

func TestDefaults(t *testing.T) {
	g := New(Policy{})
	if g.ahead != int64(DefaultAhead/time.Second) || g.confirm != DefaultConfirm {
		t.Fatalf("defaults not applied: ahead %d confirm %d", g.ahead, g.confirm)
	}
}

// FuzzGuard checks the policy's promises on any sequence of times: the
// newest admitted time never passes the clock bound, every row ends as
// admitted, released, quarantined or still held, and nothing is counted
// twice.
func FuzzGuard(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 4, 5}, int64(1_700_000_000), uint8(3))
	f.Fuzz(func(t *testing.T, steps []byte, now int64, confirm uint8) {
		if now < 0 || now > 1<<40 {
			return
		}
		g := New(Policy{Ahead: time.Minute, Confirm: int(confirm%5) + 1})
		var admitted, quarantined, held uint64
		for _, b := range steps {
			ts := now - 600 + int64(b)*30 // some within the bound, some past it
			o := g.Judge(ts, now)
			quarantined += uint64(o.Discard)
			held -= uint64(o.Discard)
			switch o.Verdict {
			case Admit:
				admitted++
				if o.Release {
					admitted += held
					held = 0
				}
			case Hold:
				held++
			case Quarantine:
				quarantined++
			}
			if n := g.Stats().Newest; n > now+60 {
				t.Fatalf("newest %d passed the clock bound %d", n, now+60)
			}
		}
		if g.Settle() {
			admitted += held
		} else {
			quarantined += held
		}
		if admitted+quarantined != uint64(len(steps)) || g.Stats().Quarantined != quarantined {
			t.Fatalf("admitted %d + quarantined %d (guard says %d) != %d rows", admitted, quarantined, g.Stats().Quarantined, len(steps))
		}
	})
}
