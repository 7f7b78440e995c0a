package extension

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// FuzzPollerDeliversEachRowOnce drives the poller over SQLite with rows as
// osquery adds them — stamped with the clock at the moment they are added,
// per table, in any eid format (zero-padded as osquery writes them,
// unpadded, text, or a repeated eid), up to many rows per second — and a
// few rows stamped in the future. Whatever the page size, every row whose
// second is complete by the end is delivered exactly once, rows from the
// future only once the clock has passed them, and never one beyond the
// guard's bound.
func FuzzPollerDeliversEachRowOnce(f *testing.F) {
	f.Add([]byte{0x10, 0x21, 0x32, 0x03, 0x44, 0x15, 0x26, 0x07}, uint8(3), uint8(0))
	f.Add([]byte{0xff, 0xfe, 0xfd, 0x00, 0x01, 0x02}, uint8(1), uint8(1))
	f.Add([]byte{0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x08, 0x09}, uint8(2), uint8(2))
	f.Add([]byte{0x33, 0x33, 0x33, 0x33, 0x0c, 0x6f, 0x7e, 0x10}, uint8(4), uint8(3))
	f.Fuzz(func(t *testing.T, ops []byte, pageRows uint8, format uint8) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		sources := []Source{ProcessEventsSource, SocketEventsSource}
		if format%5 == 4 {
			sources = []Source{BPFProcessEventsSource, BPFSocketEventsSource}
		}
		ev := newSQLEvents(t, sources...)
		p := NewPoller(ev, sources)
		p.MaxRows = int(pageRows%8) + 1
		p.QuarantineEvery = time.Nanosecond
		p.ClockSkew = 5 * time.Minute
		now := int64(1_700_000_000)
		p.Now = func() time.Time { return time.Unix(now, 0) }

		counter := make([]int, len(sources))
		last := make([]string, len(sources))
		type want struct{ time int64 }
		added := map[string]want{} // key -> time
		eid := func(ti int, repeat bool) string {
			if repeat && last[ti] != "" {
				return last[ti]
			}
			counter[ti]++
			n := counter[ti]
			var s string
			switch format % 5 {
			case 0:
				s = fmt.Sprintf("%010d", n) // osquery's own format
			case 1:
				s = strconv.Itoa(n)
			case 2:
				s = fmt.Sprintf("e%x", n*7919%1000+n*1000)
			case 3:
				s = strconv.Itoa(n*37%100) + "-" + strconv.Itoa(n) // neither sorted nor numeric
			case 4:
				s = strconv.Itoa(n) // INTEGER eids of the BPF tables
			}
			last[ti] = s
			return s
		}
		seen := map[string]int{}
		cur := Cursor{}
		pid := 0
		for _, op := range ops {
			switch op >> 6 {
			case 0, 1: // add rows now
				ti := int(op>>5) & 1
				n := int(op&0x0f) + 1
				if op&0x10 != 0 {
					n *= 3
				}
				for range n {
					pid++
					e := eid(ti, op&0x0f == 0x0f)
					row := map[string]string{"eid": e, "time": strconv.FormatInt(now, 10), "pid": strconv.Itoa(pid)}
					ev.insert(sources[ti].Table, row)
					added[sources[ti].Table+"/"+row["time"]+"/"+e+"/"+row["pid"]] = want{now}
				}
			case 2: // the clock moves on
				now += int64(op&0x07) + 0
				if op&0x08 != 0 {
					now++
				}
			case 3: // a row stamped ahead of the clock
				ti := int(op>>5) & 1
				ahead := int64(op&0x1f) * 20 // up to 620 s: some beyond the 5 min bound
				pid++
				e := eid(ti, false)
				tm := now + ahead
				row := map[string]string{"eid": e, "time": strconv.FormatInt(tm, 10), "pid": strconv.Itoa(pid)}
				ev.insert(sources[ti].Table, row)
				added[sources[ti].Table+"/"+row["time"]+"/"+e+"/"+row["pid"]] = want{tm}
			}
			cur = drainPoll(t, p, cur, seen)
			for k, n := range seen {
				if n > 1 {
					t.Fatalf("row %s delivered %d times", k, n)
				}
				w, ok := added[k]
				if !ok {
					t.Fatalf("delivered %s, never added", k)
				}
				if w.time > now {
					t.Fatalf("row %s delivered before the clock (%d) reached it", k, now)
				}
			}
		}
		// Let every row that is not beyond the bound fall due, and drain.
		final := now + 2
		for _, w := range added {
			if w.time <= p.QuarantineLimit(now) {
				final = max(final, w.time+2)
			}
		}
		now = final
		drainPoll(t, p, cur, seen)
		for k, w := range added {
			switch n := seen[k]; {
			case w.time < now-1 && n != 1:
				t.Errorf("row %s delivered %d times, want once", k, n)
			case w.time >= now-1 && n != 0:
				t.Errorf("row %s of an incomplete second delivered", k)
			}
		}
		for k, n := range seen {
			if n > 1 {
				t.Errorf("row %s delivered %d times", k, n)
			}
		}
	})
}
