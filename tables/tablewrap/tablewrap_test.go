package tablewrap

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"
)

var testSpec = Spec{Name: "t", Columns: []Column{Text("a", ""), BigInt("b", "")}}

func TestGenerateOK(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
		return []map[string]string{{"a": "x", "b": "1"}, {"a": "y", "b": "2"}}, nil
	}, Options{})
	rows, err := tbl.Generate(context.Background(), table.QueryContext{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("Generate = %v, %v", rows, err)
	}
	want := Stats{Table: "t", Calls: 1, Rows: 2}
	if got := tbl.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestNilRowsBecomeEmpty(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, func(context.Context, table.QueryContext) ([]map[string]string, error) { return nil, nil }, Options{})
	rows, err := tbl.Generate(context.Background(), table.QueryContext{})
	if err != nil || rows == nil || len(rows) != 0 {
		t.Errorf("Generate = %#v, %v; want an empty non-nil slice", rows, err)
	}
}

func TestGenerateError(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		return nil, errors.New("store unreadable")
	}, Options{})
	resp := tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": "{}"})
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "store unreadable") {
		t.Errorf("status = %+v", resp.Status)
	}
	if s := tbl.Stats(); s.Errors != 1 || s.LastError != "store unreadable" {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPanicBecomesError(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		var rows []map[string]string
		_ = rows[3] // index out of range panics
		return nil, nil
	}, Options{})
	resp := tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": "{}"})
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "panicked") {
		t.Errorf("status = %+v", resp.Status)
	}
	_, err := tbl.Generate(context.Background(), table.QueryContext{})
	if !errors.Is(err, ErrPanic) {
		t.Errorf("err = %v, want ErrPanic", err)
	}
	if s := tbl.Stats(); s.Panics != 2 || s.Errors != 2 {
		t.Errorf("Stats = %+v", s)
	}
	// The worker slot was released: the table still answers.
	for range DefaultMaxConcurrent + 1 {
		if _, err := tbl.Generate(context.Background(), table.QueryContext{}); !errors.Is(err, ErrPanic) {
			t.Fatalf("after panics: err = %v, want ErrPanic (not busy)", err)
		}
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	tbl := New(testSpec, func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		<-release // ignores ctx: the wrapper must still answer
		return nil, nil
	}, Options{Timeout: 10 * time.Millisecond, MaxConcurrent: 1})
	_, err := tbl.Generate(context.Background(), table.QueryContext{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The stuck read still holds the only slot.
	if _, err := tbl.Generate(context.Background(), table.QueryContext{}); !errors.Is(err, ErrBusy) {
		t.Errorf("while stuck: err = %v, want ErrBusy", err)
	}
	close(release)
	s := tbl.Stats()
	if s.Timeouts != 1 || s.Busy != 1 || s.Errors != 2 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, Options{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tbl.Generate(ctx, table.QueryContext{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestBusyFailsFast(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	tbl := New(testSpec, func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		started <- struct{}{}
		<-release
		return []map[string]string{{"a": "1"}}, nil
	}, Options{MaxConcurrent: 2, Timeout: time.Hour})

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tbl.Generate(context.Background(), table.QueryContext{})
			errs <- err
		}()
	}
	<-started
	<-started
	_, err := tbl.Generate(context.Background(), table.QueryContext{})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "2 reads already running") {
		t.Errorf("third read: err = %v, want ErrBusy naming the cap", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("running read failed: %v", err)
		}
	}
	if _, err := tbl.Generate(context.Background(), table.QueryContext{}); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestRoutesMatchSpec(t *testing.T) {
	t.Parallel()
	tbl := New(testSpec, nil, Options{})
	routes := tbl.Plugin().Routes()
	if len(routes) != 2 || routes[0]["name"] != "a" || routes[0]["type"] != "TEXT" || routes[1]["type"] != "BIGINT" {
		t.Errorf("routes = %v", routes)
	}
	if tbl.Plugin().Name() != "t" {
		t.Errorf("name = %q", tbl.Plugin().Name())
	}
}

func TestColumnsUsed(t *testing.T) {
	cols := []string{"a", "b", "c"}
	for _, tt := range []struct {
		name    string
		context string
		used    string // the columns ColumnsUsed reports, of a, b, c and z
	}{
		{"names", `{"constraints":[],"colsUsed":["b"],"colsUsedBitset":2}`, "b"},
		{"names win over the bitset", `{"colsUsed":["a","c"],"colsUsedBitset":2}`, "a,c"},
		{"none used (count(*))", `{"colsUsed":[],"colsUsedBitset":0}`, ""},
		{"bitset alone", `{"colsUsedBitset":5}`, "a,c"},
		{"neither: every column", `{"constraints":[]}`, "a,b,c,z"},
		{"malformed: every column", `{"colsUsed":"b"}`, "a,b,c,z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tbl := New(Spec{Name: "t", Columns: []Column{Text("a", ""), Text("b", ""), Text("c", "")}},
				func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
					for _, c := range append(cols, "z") {
						if ColumnsUsed(ctx, c) {
							got = append(got, c)
						}
					}
					return nil, nil
				}, Options{})
			tbl.Plugin().Call(context.Background(), osquery.ExtensionPluginRequest{"action": "generate", "context": tt.context})
			if strings.Join(got, ",") != tt.used {
				t.Errorf("used %v, want %s", got, tt.used)
			}
		})
	}
}
