package extension

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

func fixedClock(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

func eidsOf(rows []RawRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Table[:1]+r.EID[len(r.EID)-2:]+"@"+strconv.FormatInt(r.Time, 10))
	}
	return out
}

func TestPollerHoldsBackTheNewestSecond(t *testing.T) {
	f := newSQLEvents(t)
	f.add("process_events", 100, 2)
	f.add("socket_events", 100, 1)
	f.add("process_events", 101, 1)
	p := NewPoller(f, []Source{ProcessEventsSource, SocketEventsSource})
	p.Now = fixedClock(102) // second 101 may still fill (settle 2s)

	page, err := p.Poll(context.Background(), Cursor{Time: 0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(eidsOf(page.Rows), " "), "p01@100 p02@100 s01@100"; got != want {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if page.Next.Time != 101 || page.More {
		t.Fatalf("next cursor %+v more %v, want time 101 and no more", page.Next, page.More)
	}
	for _, q := range f.pollQueries() {
		if !strings.Contains(q, "WHERE time >= 0") || !strings.Contains(q, "eid") {
			t.Errorf("query lacks the time constraint or eid: %s", q)
		}
	}

	// Second 101 fills further; once the clock moves on, all of it goes.
	f.add("process_events", 101, 1)
	f.add("socket_events", 101, 1)
	page, err = p.Poll(context.Background(), page.Next)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 0 {
		t.Fatalf("second 101 delivered before it was complete: %v", eidsOf(page.Rows))
	}
	p.Now = fixedClock(103)
	page, err = p.Poll(context.Background(), page.Next)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(eidsOf(page.Rows), " "), "p03@101 p04@101 s02@101"; got != want {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if page.Next.Time != 102 {
		t.Fatalf("cursor %d, want 102", page.Next.Time)
	}
}

func TestPollerNewerSecondClosesOlderOnes(t *testing.T) {
	f := newSQLEvents(t)
	f.add("process_events", 200, 1)
	f.add("process_events", 201, 1)
	p := NewPoller(f, []Source{ProcessEventsSource})
	p.Now = fixedClock(201)
	page, err := p.Poll(context.Background(), Cursor{Time: 150})
	if err != nil {
		t.Fatal(err)
	}
	if got := eidsOf(page.Rows); len(got) != 1 || got[0] != "p01@200" {
		t.Fatalf("delivered %v, want only second 200", got)
	}
	if page.Next.Time != 201 {
		t.Fatalf("cursor %d, want 201", page.Next.Time)
	}
}

// A flood is read in pages of MaxRows; every row is delivered exactly once
// and each delivery holds only complete seconds.
func TestPollerPagesAFloodExactlyOnce(t *testing.T) {
	f := newSQLEvents(t)
	for sec := int64(1000); sec < 1010; sec++ {
		f.add("process_events", sec, 7)
		f.add("socket_events", sec, 3)
	}
	f.add("process_events", 1010, 25) // one second bigger than a page
	p := NewPoller(f, []Source{ProcessEventsSource, SocketEventsSource})
	p.MaxRows = 10
	p.Now = fixedClock(2000)

	seen := map[string]int{}
	cur := Cursor{}
	for i := 0; i < 100; i++ {
		page, err := p.Poll(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			seen[r.Table+r.EID]++
		}
		cur = page.Next
		if !page.More && len(page.Rows) == 0 {
			break
		}
	}
	total := 10*10 + 25
	if len(seen) != total {
		t.Fatalf("delivered %d distinct rows, want %d", len(seen), total)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("row %s delivered %d times", k, n)
		}
	}
	if cur.Time != 1999 {
		t.Errorf("final cursor %d, want 1999 (now - settle + 1)", cur.Time)
	}
}

func TestPollerCountsMalformedTimeOnce(t *testing.T) {
	f := newSQLEvents(t)
	f.add("process_events", 300, 1)
	f.insert("process_events", map[string]string{"eid": "0000000002", "time": "soon", "pid": "2"})
	p := NewPoller(f, []Source{ProcessEventsSource})
	p.Now = fixedClock(400)
	cur := Cursor{}
	malformed := 0
	for range 3 {
		page, err := p.Poll(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		malformed += page.Tables["process_events"].Malformed
		for _, reason := range page.MalformedReasons {
			if !strings.Contains(reason, `time "soon" is not a number`) {
				t.Errorf("reason %q does not name the bad time", reason)
			}
		}
		cur = page.Next
	}
	if malformed != 1 {
		t.Fatalf("malformed counted %d times, want once", malformed)
	}
}

func TestPollerErrorKeepsCursor(t *testing.T) {
	f := newSQLEvents(t)
	f.fail = errors.New("socket closed")
	p := NewPoller(f, []Source{ProcessEventsSource})
	cur := Cursor{Time: 42}
	page, err := p.Poll(context.Background(), cur)
	if err == nil || !strings.Contains(err.Error(), "process_events") {
		t.Fatalf("error %v does not name the table", err)
	}
	if page.Next.Time != 42 || len(page.Rows) != 0 {
		t.Fatalf("failed poll moved the cursor or delivered rows: %+v", page)
	}
}

func BenchmarkPollerPage(b *testing.B) {
	f := newSQLEvents(b)
	for sec := int64(0); sec < 100; sec++ {
		f.add("process_events", sec, 100)
	}
	p := NewPoller(f, []Source{ProcessEventsSource})
	p.Now = fixedClock(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Poll(context.Background(), Cursor{}); err != nil {
			b.Fatal(err)
		}
	}
}

// drainPoll polls from cur until nothing more is ready, returning every
// delivered row and the final cursor; it fails on a row delivered twice.
func drainPoll(t testing.TB, p *Poller, cur Cursor, seen map[string]int) Cursor {
	t.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatalf("polling never settles; cursor %+v", cur)
		}
		page, err := p.Poll(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			key := r.Table + "/" + strconv.FormatInt(r.Time, 10) + "/" + r.EID + "/" + r.Col("pid")
			seen[key]++
		}
		if page.Next.Time < cur.Time {
			t.Fatalf("cursor went back from %+v to %+v", cur, page.Next)
		}
		cur = page.Next
		if !page.More {
			return cur
		}
	}
}

// More rows in one second than a query returns, with eids that are not
// zero-padded ("9" sorts after "10" as text): every row is delivered once,
// and rows of later seconds still arrive.
func TestPollerPagesASecondOfUnpaddedEIDs(t *testing.T) {
	for _, src := range []Source{ProcessEventsSource, BPFProcessEventsSource} {
		t.Run(src.Table, func(t *testing.T) {
			f := newSQLEvents(t, src)
			for i := 1; i <= 25; i++ {
				f.insert(src.Table, map[string]string{"eid": strconv.Itoa(i), "time": "500", "pid": strconv.Itoa(i)})
			}
			p := NewPoller(f, []Source{src})
			p.MaxRows = 10
			p.Now = fixedClock(510)
			seen := map[string]int{}
			cur := drainPoll(t, p, Cursor{}, seen)
			for i := 26; i <= 30; i++ {
				f.insert(src.Table, map[string]string{"eid": strconv.Itoa(i), "time": "515", "pid": strconv.Itoa(i)})
			}
			p.Now = fixedClock(520)
			drainPoll(t, p, cur, seen)
			if len(seen) != 30 {
				t.Fatalf("delivered %d distinct rows, want 30: %v", len(seen), seen)
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("row %s delivered %d times", k, n)
				}
			}
		})
	}
}

// A row stamped far in the future is quarantined: counted once, never
// delivered, and the cursor keeps following the clock, so later rows are
// read.
func TestPollerQuarantinesRowsFromTheFuture(t *testing.T) {
	f := newSQLEvents(t)
	f.add("process_events", 1000, 1)
	f.insert("process_events", map[string]string{"eid": "0000000002", "time": "32503680000", "pid": "666"})
	f.insert("socket_events", map[string]string{"eid": "0000000001", "time": "32503680000", "pid": "666"})
	p := NewPoller(f, []Source{ProcessEventsSource, SocketEventsSource})
	p.QuarantineEvery = time.Nanosecond
	cur := Cursor{}
	quarantined := map[string]int{}
	var reasons []string
	seen := map[string]int{}
	for sec := int64(1002); sec < 1010; sec++ {
		p.Now = fixedClock(sec)
		f.insert("process_events", map[string]string{"eid": fmt.Sprintf("%010d", sec), "time": strconv.FormatInt(sec, 10), "pid": "1"})
		page, err := p.Poll(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		for table, read := range page.Tables {
			quarantined[table] += read.Quarantined
		}
		reasons = append(reasons, page.MalformedReasons...)
		for _, r := range page.Rows {
			seen[r.EID]++
			if r.Time > sec {
				t.Fatalf("row from the future delivered: %+v", r)
			}
		}
		if page.Next.Time > sec {
			t.Fatalf("cursor %d ahead of the clock %d", page.Next.Time, sec)
		}
		cur = page.Next
	}
	if quarantined["process_events"] != 1 || quarantined["socket_events"] != 1 {
		t.Fatalf("quarantined %v, want one row per table", quarantined)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "3000-01-01") || !strings.Contains(reasons[0], "quarantined") {
		t.Fatalf("reasons %q do not name the rows", reasons)
	}
	if cur.Time != 1008 || len(seen) != 7 { // 1000 and 1002..1007
		t.Fatalf("cursor %d and %d rows delivered, want 1008 and 7", cur.Time, len(seen))
	}
}

// A row a little ahead of the clock (within the guard's bound) is held
// back, not quarantined, and delivered once the clock has passed it.
func TestPollerHoldsRowsAheadOfTheClockUntilDue(t *testing.T) {
	f := newSQLEvents(t)
	f.add("process_events", 1000, 1)
	f.add("process_events", 1030, 1) // 30 s ahead
	p := NewPoller(f, []Source{ProcessEventsSource})
	p.Now = fixedClock(1002)
	page, err := p.Poll(context.Background(), Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 1 || page.Next.Time != 1001 || page.Tables["process_events"].Quarantined != 0 {
		t.Fatalf("first poll: rows %v, cursor %d, table %+v", eidsOf(page.Rows), page.Next.Time, page.Tables["process_events"])
	}
	p.Now = fixedClock(1040)
	page, err = p.Poll(context.Background(), page.Next)
	if err != nil {
		t.Fatal(err)
	}
	if got := eidsOf(page.Rows); len(got) != 1 || got[0] != "p02@1030" {
		t.Fatalf("second poll delivered %v, want the row of 1030", got)
	}
}

// Every column an audit source names is one the normalizer reads, or one
// of an event's identity (uptime, fd).
func TestSourcesNameOnlyColumnsTheNormalizerReads(t *testing.T) {
	for _, src := range []Source{ProcessEventsSource, SocketEventsSource} {
		for _, c := range src.Columns {
			if normalize.ColOf(c) == normalize.ColNone && c != "uptime" && c != "fd" {
				t.Errorf("%s names %s, which the normalizer never reads", src.Table, c)
			}
		}
	}
}
