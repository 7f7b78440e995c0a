// Package tablewrap builds osquery table plugins with guard rails. Every
// table the extension serves is created here, never with table.NewPlugin
// directly, so that each read
//
//   - is bounded by a timeout (osqueryd waits up to --thrift_timeout, 300 s
//     by default, for an extension; we answer well before that),
//   - is refused at once with ErrBusy when MaxConcurrent reads of the same
//     table are already running, instead of piling up,
//   - turns a panic in the generate function into an error instead of
//     killing the extension,
//   - is counted (calls, rows, errors, timeouts, busy refusals, panics) for
//     detection_health,
//   - knows which columns the query uses (ColumnsUsed), so a table can
//     leave out costly columns nobody selected.
//
// A read that times out keeps its worker slot until its generate function
// returns, so a generate function that ignores its context eventually makes
// the table busy rather than leaking goroutines without bound.
package tablewrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"
)

// Defaults for Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxConcurrent = 4
)

// Errors a wrapped read can fail with (wrapped, test with errors.Is).
var (
	ErrBusy    = errors.New("table is busy")
	ErrTimeout = errors.New("table read timed out")
	ErrPanic   = errors.New("table read panicked")
)

// Options tune the guard rails. Zero fields take the defaults.
type Options struct {
	Timeout       time.Duration
	MaxConcurrent int
	// Logger receives the stack of a recovered panic; nil discards it.
	Logger *slog.Logger
}

// Column describes one column of a table.
type Column struct {
	Name        string           `json:"name"`
	Type        table.ColumnType `json:"type"`
	Description string           `json:"description"`
}

// Spec is a table's contract: its name and columns, in order.
type Spec struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Columns     []Column `json:"columns"`
}

// ColumnNames lists the spec's column names in order.
func (s Spec) ColumnNames() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

func (s Spec) definitions() []table.ColumnDefinition {
	out := make([]table.ColumnDefinition, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = table.ColumnDefinition{Name: c.Name, Type: c.Type}
	}
	return out
}

// Text, Integer and BigInt declare columns of osquery's types.
func Text(name, description string) Column {
	return Column{Name: name, Type: table.ColumnTypeText, Description: description}
}

// Integer declares a 32-bit integer column.
func Integer(name, description string) Column {
	return Column{Name: name, Type: table.ColumnTypeInteger, Description: description}
}

// BigInt declares a 64-bit integer column.
func BigInt(name, description string) Column {
	return Column{Name: name, Type: table.ColumnTypeBigInt, Description: description}
}

// Stats are a table's counters since the extension started.
type Stats struct {
	Table     string `json:"table"`
	Calls     int64  `json:"calls"`
	Rows      int64  `json:"rows"`
	Errors    int64  `json:"errors"` // every failed read, including the three below
	Timeouts  int64  `json:"timeouts"`
	Busy      int64  `json:"busy"`
	Panics    int64  `json:"panics"`
	LastError string `json:"last_error,omitempty"`
}

// Table is a guarded table: Plugin() is what the extension registers.
type Table struct {
	spec    Spec
	gen     table.GenerateFunc
	timeout time.Duration
	slots   chan struct{}
	log     *slog.Logger
	plugin  *plugin

	calls, rows, errs, timeouts, busy, panics atomic.Int64
	mu                                        sync.Mutex
	lastError                                 string
}

// New wraps gen as the table spec describes.
func New(spec Spec, gen table.GenerateFunc, opts Options) *Table {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	t := &Table{
		spec:    spec,
		gen:     gen,
		timeout: opts.Timeout,
		slots:   make(chan struct{}, opts.MaxConcurrent),
		log:     opts.Logger,
	}
	// The one place the raw constructor is used.
	t.plugin = &plugin{Plugin: table.NewPlugin(spec.Name, spec.definitions(), t.Generate), columns: spec.ColumnNames()}
	return t
}

// Plugin is the osquery table plugin to register.
func (t *Table) Plugin() osquery.OsqueryPlugin { return t.plugin }

// plugin is osquery-go's table plugin, plus the columns the query uses:
// osqueryd sends them in the query context as "colsUsed" (the columns
// SQLite reads anywhere in the statement: SELECT list, WHERE, ORDER BY),
// (osquery/core/tables.cpp, TablePlugin::setRequestFromContext, adds
// "colsUsed" and "colsUsedBitset" when SQLite reported them), but
// osquery-go (at the pinned version) parses only the constraints, so
// Call reads them from the same JSON and hands them to Generate through
// its context.
type plugin struct {
	*table.Plugin
	columns []string // in declaration order, as colsUsedBitset numbers them
}

func (p *plugin) Call(ctx context.Context, request gen.ExtensionPluginRequest) gen.ExtensionResponse {
	if request["action"] == "generate" {
		if cols, ok := parseColumnsUsed(request["context"], p.columns); ok {
			ctx = context.WithValue(ctx, columnsUsedKey{}, cols)
		}
	}
	return p.Plugin.Call(ctx, request)
}

type columnsUsedKey struct{}

// parseColumnsUsed reads the columns a query uses from its context:
// colsUsed (names), else colsUsedBitset (bit i is the i-th declared
// column; SQLite's bit 63 stands for every column from the 64th on). ok is
// false when neither is there or the JSON is malformed: then every column
// counts as used.
func parseColumnsUsed(contextJSON string, columns []string) (map[string]bool, bool) {
	var doc struct {
		ColsUsed       *[]string `json:"colsUsed"`
		ColsUsedBitset *uint64   `json:"colsUsedBitset"`
	}
	if err := json.Unmarshal([]byte(contextJSON), &doc); err != nil {
		return nil, false
	}
	switch {
	case doc.ColsUsed != nil:
		cols := make(map[string]bool, len(*doc.ColsUsed))
		for _, c := range *doc.ColsUsed {
			cols[c] = true
		}
		return cols, true
	case doc.ColsUsedBitset != nil:
		cols := make(map[string]bool, len(columns))
		for i, c := range columns {
			if *doc.ColsUsedBitset&(1<<min(i, 63)) != 0 {
				cols[c] = true
			}
		}
		return cols, true
	}
	return nil, false
}

// ColumnsUsed reports whether the query being generated reads column.
// Without column information (a direct call, an osquery that does not
// send it) every column counts as used.
func ColumnsUsed(ctx context.Context, column string) bool {
	cols, ok := ctx.Value(columnsUsedKey{}).(map[string]bool)
	return !ok || cols[column]
}

// Spec is the table's contract.
func (t *Table) Spec() Spec { return t.spec }

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	last := t.lastError
	t.mu.Unlock()
	return Stats{
		Table:     t.spec.Name,
		Calls:     t.calls.Load(),
		Rows:      t.rows.Load(),
		Errors:    t.errs.Load(),
		Timeouts:  t.timeouts.Load(),
		Busy:      t.busy.Load(),
		Panics:    t.panics.Load(),
		LastError: last,
	}
}

type result struct {
	rows []map[string]string
	err  error
}

// Generate runs the table's generate function with the guard rails. It is
// the plugin's GenerateFunc; tests may call it directly.
func (t *Table) Generate(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
	t.calls.Add(1)
	select {
	case t.slots <- struct{}{}:
	default:
		t.busy.Add(1)
		return nil, t.fail(fmt.Errorf("%s: %w: %d reads already running, try again shortly", t.spec.Name, ErrBusy, cap(t.slots)))
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	done := make(chan result, 1)
	go func() {
		defer func() { <-t.slots }()
		defer func() {
			if r := recover(); r != nil {
				t.panics.Add(1)
				if t.log != nil {
					t.log.Error("table read panicked", "table", t.spec.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				}
				done <- result{err: fmt.Errorf("%s: %w: %v", t.spec.Name, ErrPanic, r)}
			}
		}()
		rows, err := t.gen(ctx, qc)
		done <- result{rows: rows, err: err}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return nil, t.fail(r.err)
		}
		if r.rows == nil {
			r.rows = []map[string]string{}
		}
		t.rows.Add(int64(len(r.rows)))
		return r.rows, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.timeouts.Add(1)
			return nil, t.fail(fmt.Errorf("%s: %w (limit %s)", t.spec.Name, ErrTimeout, t.timeout))
		}
		return nil, t.fail(fmt.Errorf("%s: %w", t.spec.Name, ctx.Err()))
	}
}

func (t *Table) fail(err error) error {
	t.errs.Add(1)
	t.mu.Lock()
	t.lastError = err.Error()
	t.mu.Unlock()
	return err
}
