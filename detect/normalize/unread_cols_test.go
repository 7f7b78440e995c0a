package normalize

import "testing"

// The columns Unread names may be left out of an event row with an eid:
// every event, its id included, is the same without them, for each kind
// of row.
func TestUnreadColumnsChangeNoEvent(t *testing.T) {
	var rows []Row
	rows = append(rows, execPool(40)...)
	rows = append(rows, socketPool(40)...)
	rows = append(rows, churnRows(0, 60)...)
	for i := range rows {
		// Every unread column present, whatever the pool set.
		for c := Col(0); c < numCols; c++ {
			if Unread(rows[i].Table, c) {
				if _, ok := rows[i].Cols[c.Name()]; !ok {
					rows[i].Cols[c.Name()] = "17"
				}
			}
		}
	}
	full, lean := New(Options{}), New(Options{})
	left := 0
	for i, r := range rows {
		cols := map[string]string{}
		for k, v := range r.Cols {
			if Unread(r.Table, ColOf(k)) {
				left++
				continue
			}
			cols[k] = v
		}
		l := r
		l.Cols = cols
		if got, want := eventJSON(t, lean, l), eventJSON(t, full, r); got != want {
			t.Fatalf("row %d without its unread columns:\n%s\nwith them:\n%s", i, got, want)
		}
	}
	if left == 0 {
		t.Fatal("no column left out")
	}
}

// An event's id hashes its identity columns: none may be unread.
func TestIdentityColumnsAreRead(t *testing.T) {
	for _, name := range identityColumns {
		for _, table := range []string{TableProcessEvents, TableSocketEvents, TableBPFProcessEvents, TableBPFSocketEvents} {
			if Unread(table, ColOf(name)) {
				t.Errorf("identity column %s of %s is unread", name, table)
			}
		}
	}
	if Unread(TableProcesses, ColMode) || Unread("other", ColMode) {
		t.Error("columns of a table whose rows are not events are unread")
	}
}
