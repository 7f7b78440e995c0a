package extension

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeEvents answers the poller's queries over in-memory event rows the way
// osquery's SQLite would: time >= constraint, the optional eid clause,
// ORDER BY time, eid and LIMIT.
type fakeEvents struct {
	rows    map[string][]map[string]string
	queries []string
	fail    error
}

var pollSQLRe = regexp.MustCompile(`^SELECT (.+) FROM (\w+) WHERE time >= (\d+)(?: AND \(time > (\d+) OR eid > '([^']*)'\))? ORDER BY time, eid LIMIT (\d+)$`)

func (f *fakeEvents) QueryRows(_ context.Context, sql string) ([]map[string]string, error) {
	f.queries = append(f.queries, sql)
	if f.fail != nil {
		return nil, f.fail
	}
	m := pollSQLRe.FindStringSubmatch(sql)
	if m == nil {
		return nil, fmt.Errorf("unexpected query %q", sql)
	}
	table := m[2]
	from, _ := strconv.ParseInt(m[3], 10, 64)
	limit, _ := strconv.Atoi(m[6])
	var out []map[string]string
	for _, r := range f.rows[table] {
		t, err := strconv.ParseInt(r["time"], 10, 64)
		if err == nil && t < from {
			continue
		}
		if m[4] != "" && err == nil && t == from && r["eid"] <= m[5] {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, ei := strconv.ParseInt(out[i]["time"], 10, 64)
		tj, ej := strconv.ParseInt(out[j]["time"], 10, 64)
		if (ei == nil) != (ej == nil) {
			return ei == nil // numbers sort before text in SQLite
		}
		if ti != tj {
			return ti < tj
		}
		return out[i]["eid"] < out[j]["eid"]
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeEvents) add(table string, sec int64, n int) {
	if f.rows == nil {
		f.rows = map[string][]map[string]string{}
	}
	for range n {
		eid := fmt.Sprintf("%010d", len(f.rows[table])+1)
		f.rows[table] = append(f.rows[table], map[string]string{"eid": eid, "time": strconv.FormatInt(sec, 10), "pid": "1"})
	}
}

func fixedClock(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

func eidsOf(rows []RawRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Table[:1]+r.EID[len(r.EID)-2:]+"@"+strconv.FormatInt(r.Time, 10))
	}
	return out
}

func TestPollerHoldsBackTheNewestSecond(t *testing.T) {
	f := &fakeEvents{}
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
	for _, q := range f.queries {
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
	f := &fakeEvents{}
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
	f := &fakeEvents{}
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
	f := &fakeEvents{}
	f.add("process_events", 300, 1)
	f.rows["process_events"] = append(f.rows["process_events"], map[string]string{"eid": "0000000002", "time": "soon", "pid": "2"})
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
	f := &fakeEvents{fail: errors.New("socket closed")}
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

func TestEIDAfter(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"0000000010", "0000000009", true},
		{"10", "9", true},
		{"0000000009", "0000000010", false},
		{"b", "a", true},
		{"5", "5", false},
	}
	for _, tt := range tests {
		if got := eidAfter(tt.a, tt.b); got != tt.want {
			t.Errorf("eidAfter(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func BenchmarkPollerPage(b *testing.B) {
	f := &fakeEvents{}
	for sec := int64(0); sec < 100; sec++ {
		f.add("process_events", sec, 100)
	}
	p := NewPoller(f, []Source{ProcessEventsSource})
	p.Now = fixedClock(1000)
	b.ReportAllocs()
	for b.Loop() {
		f.queries = f.queries[:0]
		if _, err := p.Poll(context.Background(), Cursor{}); err != nil {
			b.Fatal(err)
		}
	}
}
