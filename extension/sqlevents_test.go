package extension

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite" // the SQL engine osquery embeds
)

// sqlEvents answers the poller's queries with SQLite itself, the engine
// osquery runs every query through, over plain tables holding the event
// rows: ordering, comparisons of eids and LIMIT are SQLite's own. (osquery
// narrows an event table's scan by the time constraint before SQLite
// filters; over a plain table SQLite filters everything, with the same
// result.)
type sqlEvents struct {
	t       testing.TB
	db      *sql.DB
	mu      sync.Mutex
	queries []string
	fail    error
	eids    map[string]int
}

func newSQLEvents(t testing.TB, sources ...Source) *sqlEvents {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one in-memory database
	t.Cleanup(func() { db.Close() })
	if len(sources) == 0 {
		sources = []Source{ProcessEventsSource, SocketEventsSource}
	}
	for _, src := range sources {
		var cols []string
		for _, c := range src.Columns {
			typ := "TEXT"
			switch {
			case c == "time":
				typ = "BIGINT"
			case c == "eid" && src.NumericEID:
				typ = "INTEGER"
			}
			cols = append(cols, c+" "+typ)
		}
		if _, err := db.Exec("CREATE TABLE " + src.Table + " (" + strings.Join(cols, ", ") + ")"); err != nil {
			t.Fatal(err)
		}
	}
	return &sqlEvents{t: t, db: db, eids: map[string]int{}}
}

func (f *sqlEvents) QueryRows(ctx context.Context, q string) ([]map[string]string, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	rows, err := f.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(map[string]string, len(names))
		for i, n := range names {
			switch v := vals[i].(type) {
			case nil:
				r[n] = "" // osquery sends NULL as an empty string
			case []byte:
				r[n] = string(v)
			case int64:
				r[n] = strconv.FormatInt(v, 10)
			default:
				r[n] = fmt.Sprint(v)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// insert adds one row; columns not given are NULL.
func (f *sqlEvents) insert(table string, row map[string]string) {
	f.t.Helper()
	var cols, marks []string
	var args []any
	for k, v := range row {
		cols = append(cols, k)
		marks = append(marks, "?")
		if k == "time" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				args = append(args, n)
				continue
			}
		}
		args = append(args, v)
	}
	if _, err := f.db.Exec("INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", args...); err != nil {
		f.t.Fatal(err)
	}
}

// add inserts n rows at second sec with osquery's zero-padded eids.
func (f *sqlEvents) add(table string, sec int64, n int) {
	for range n {
		f.eids[table]++
		f.insert(table, map[string]string{"eid": fmt.Sprintf("%010d", f.eids[table]), "time": strconv.FormatInt(sec, 10), "pid": "1"})
	}
}

// pollQueries returns the poll queries seen (not the quarantine probes).
func (f *sqlEvents) pollQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, q := range f.queries {
		if !strings.HasPrefix(q, "SELECT eid, time FROM") {
			out = append(out, q)
		}
	}
	return out
}

func (f *sqlEvents) QueryColumns(ctx context.Context, q string, columns []string, _ ColumnRows) (ColumnRows, error) {
	rows, err := f.QueryRows(ctx, q)
	if err != nil {
		return ColumnRows{}, err
	}
	return ColumnsFromMaps(columns, rows), nil
}
