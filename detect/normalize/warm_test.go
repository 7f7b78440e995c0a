package normalize

import (
	"reflect"
	"testing"
)

// Warm only loads memory: a normalizer warmed before each batch of rows
// gives the same events, counters and journal as one never warmed,
// through evictions and pid reuse.
func TestWarmChangesNothing(t *testing.T) {
	rows := churnRows(0, 300)
	for _, batch := range []int{1, 4, 7, 50} {
		plain := New(Options{MaxProcesses: 16})
		warmed := New(Options{MaxProcesses: 16})
		for start := 0; start < len(rows); start += batch {
			part := rows[start:min(start+batch, len(rows))]
			warmed.Warm(part)
			for i, r := range part {
				if got, want := eventJSON(t, warmed, r), eventJSON(t, plain, r); got != want {
					t.Fatalf("batch %d, row %d: warmed %s\nplain %s", batch, start+i, got, want)
				}
			}
			if got, want := warmed.Stats(), plain.Stats(); !reflect.DeepEqual(got, want) {
				t.Fatalf("batch %d: warmed stats %+v, plain %+v", batch, got, want)
			}
			if got, want := warmed.cache.dirty, plain.cache.dirty; !reflect.DeepEqual(got, want) {
				t.Fatalf("batch %d: warmed marks %v slots changed, plain %v", batch, got, want)
			}
		}
		if warmed.cache.hits != plain.cache.hits || warmed.cache.misses != plain.cache.misses || warmed.cache.tick != plain.cache.tick {
			t.Errorf("batch %d: warming counted uses", batch)
		}
	}
}

// Warm takes rows of hosts it has never seen, and rows without a pid.
func TestWarmUnknownHostAndBadRows(t *testing.T) {
	n := New(Options{})
	rows := []Row{
		execRow("1", "0", "/bin/a", "a", "1700000000", "1"),
		{Table: TableProcessEvents, Host: host, Cols: cols("pid=x", "parent=")},
		{Table: TableProcessEvents, Host: host, Cols: cols()},
		execRow("2", "1", "/bin/b", "b", "1700000000", "2"),
	}
	n.Warm(rows)
	for _, r := range rows {
		eventJSON(t, n, r)
	}
	n.Warm(rows)
	if s := n.Stats(); s.Rows != 4 {
		t.Fatalf("stats %+v", s)
	}
}
