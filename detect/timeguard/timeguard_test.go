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
	const day = 86400
	tests := []struct {
		name        string
		policy      Policy
		steps       []step
		quarantined uint64 // after Settle
		newest      int64
	}{{
		name:   "a steady stream is admitted; late rows move nothing",
		policy: Policy{Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + 1, verdict: Admit},
			{t: base + 3599, verdict: Admit},
			{t: base - 100, verdict: Admit},
		},
		newest: base + 3599,
	}, {
		name: "a row far past the clock is quarantined, first or not; a day ahead of the stream is not yet a jump",
		steps: []step{
			{t: year3000, now: base, verdict: Quarantine},
			{t: base, now: base, verdict: Admit},
			{t: year3000, now: base, verdict: Quarantine},
			{t: base + 1, now: base, verdict: Admit},
			{t: base + 86400, verdict: Admit},
		},
		quarantined: 2,
		newest:      base + 86400,
	}, {
		name:   "a lone forged row ahead of the stream never moves it, and is quarantined at the end",
		policy: Policy{Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + 30*day, verdict: Hold},
			{t: base + 2, verdict: Admit},
			{t: base + 3, verdict: Admit},
		},
		quarantined: 1,
		newest:      base + 3,
	}, {
		name:   "a gap in the log: the stream goes on after the jump, both rows admitted",
		policy: Policy{Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + day, verdict: Hold},
			{t: base + day + 1, verdict: Admit, release: true},
			{t: base + day + 2, verdict: Admit},
		},
		newest: base + day + 2,
	}, {
		name:   "a sparse host (a row every two hours) is admitted",
		policy: Policy{Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + 2*3600, verdict: Hold},
			{t: base + 4*3600, verdict: Admit, release: true},
			{t: base + 6*3600, verdict: Hold},
		},
		quarantined: 1, // the last one, which nothing confirmed
		newest:      base + 4*3600,
	}, {
		name:   "a forged era is discarded when the stream jumps to its own time",
		policy: Policy{Confirm: 3, Ahead: time.Hour},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + 300*day, verdict: Hold},
			{t: base + 2*day, verdict: Hold, discard: 1},
			{t: base + 2*day + 5, verdict: Hold},
			{t: base + 2*day + 9, verdict: Admit, release: true},
		},
		quarantined: 1,
		newest:      base + 2*day + 9,
	}, {
		name:   "within the bound nothing is held",
		policy: Policy{Ahead: time.Minute},
		steps: []step{
			{t: base, verdict: Admit},
			{t: base + 60, verdict: Admit},
			{t: base + 121, verdict: Hold},
		},
		quarantined: 1,
		newest:      base + 60,
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
			g.Settle()
			st := g.Stats()
			if st.Quarantined != tc.quarantined || st.Newest != tc.newest || g.Held() != 0 {
				t.Errorf("stats %+v, want quarantined %d newest %d", st, tc.quarantined, tc.newest)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	g := New(Policy{})
	if g.ahead != int64(DefaultAhead/time.Second) || g.skew != int64(DefaultClockSkew/time.Second) || g.confirm != DefaultConfirm {
		t.Fatalf("defaults not applied: ahead %d confirm %d", g.ahead, g.confirm)
	}
}

// FuzzGuard checks the policy's promises on any sequence of times: the
// newest time never passes the clock bound, every row ends admitted or
// quarantined, and the Guard's count agrees.
func FuzzGuard(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 4, 5}, int64(1_700_000_000), uint8(3))
	f.Fuzz(func(t *testing.T, steps []byte, now int64, confirm uint8) {
		if now < 0 || now > 1<<40 {
			return
		}
		g := New(Policy{Ahead: time.Minute, ClockSkew: time.Minute, Confirm: int(confirm%5) + 1})
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
			if uint64(g.Held()) != held {
				t.Fatalf("guard holds %d, caller %d", g.Held(), held)
			}
		}
		quarantined += uint64(g.Settle())
		if admitted+quarantined != uint64(len(steps)) || g.Stats().Quarantined != quarantined {
			t.Fatalf("admitted %d + quarantined %d (guard says %d) != %d rows", admitted, quarantined, g.Stats().Quarantined, len(steps))
		}
	})
}
