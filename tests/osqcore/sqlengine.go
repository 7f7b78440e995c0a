package osqcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	"modernc.org/sqlite/vtab"
)

// Every table the core serves, its own and the extensions', is an SQLite
// virtual table of this module, as in osqueryd. Modules are registered
// process-wide on the sqlite driver, so one module serves every Core; the
// module argument names the connection (and through it the Core).
const moduleName = "osqcore_table"

var (
	moduleOnce sync.Once
	errModule  error
	connsByKey sync.Map // string -> *sqlConn
	connSeq    atomic.Uint64
)

func registerModule() error {
	moduleOnce.Do(func() {
		errModule = vtab.RegisterModule(nil, moduleName, tableModule{})
	})
	return errModule
}

// Osquery constraint operators (osquery's ConstraintOperator, which are
// SQLite's SQLITE_INDEX_CONSTRAINT_* codes).
const (
	OpEquals             = 2
	OpGreaterThan        = 4
	OpLessThanOrEquals   = 8
	OpLessThan           = 16
	OpGreaterThanOrEqual = 32
	OpMatch              = 64
	OpLike               = 65
	OpGlob               = 66
	OpRegexp             = 67
	OpNotEquals          = 68
	OpIsNot              = 69
	OpIs                 = 72
)

func osqueryOp(op vtab.ConstraintOp) (int, bool) {
	switch op {
	case vtab.OpEQ:
		return OpEquals, true
	case vtab.OpGT:
		return OpGreaterThan, true
	case vtab.OpLE:
		return OpLessThanOrEquals, true
	case vtab.OpLT:
		return OpLessThan, true
	case vtab.OpGE:
		return OpGreaterThanOrEqual, true
	case vtab.OpMATCH:
		return OpMatch, true
	case vtab.OpLIKE:
		return OpLike, true
	case vtab.OpGLOB:
		return OpGlob, true
	case vtab.OpREGEXP:
		return OpRegexp, true
	case vtab.OpNE:
		return OpNotEquals, true
	case vtab.OpISNOT:
		return OpIsNot, true
	case vtab.OpIS:
		return OpIs, true
	}
	return 0, false
}

// Constraint is one WHERE term SQLite pushed down to a table.
type Constraint struct {
	Op   int    // osquery operator code (OpEquals, OpGreaterThan, ...)
	Expr string // right-hand side, as text
}

// QueryContext is what a table's generate step learns about the query: the
// pushed-down constraints per column and the columns the query uses.
type QueryContext struct {
	Constraints    map[string][]Constraint
	ColsUsed       []string
	ColsUsedBitset uint64
}

// rowSet is the result of generating a table.
type rowSet interface {
	Len() int
	Value(row, col int) any
}

type typedRows [][]any

func (r typedRows) Len() int               { return len(r) }
func (r typedRows) Value(row, col int) any { return r[row][col] }

// stringRows are rows as extensions (and osquery plugins) return them: every
// value a string, converted on read according to the declared column type.
type stringRows struct {
	cols []Column
	rows []map[string]string
}

func (r stringRows) Len() int { return len(r.rows) }
func (r stringRows) Value(row, col int) any {
	c := r.cols[col]
	s, ok := r.rows[row][c.Name]
	if !ok {
		return nil
	}
	return typedValue(c, s)
}

// typedValue converts a string cell the way osquery's xColumn does: numeric
// columns that do not parse become NULL.
func typedValue(c Column, s string) any {
	switch c.Type {
	case TypeInteger, TypeBigInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil
		}
		return n
	case TypeUBigInt:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil
		}
		return int64(n)
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil
		}
		return f
	}
	return s
}

// tableDef is one table in the core's registry.
type tableDef struct {
	name     string
	columns  []Column
	owner    int64 // extension uuid; 0 for core tables
	generate func(ctx context.Context, qc *QueryContext) (rowSet, error)
}

// sqlConn is one SQLite connection (a private in-memory database) with the
// virtual tables it currently has.
type sqlConn struct {
	key     string
	conn    *sql.Conn
	gen     uint64
	defs    map[string]*tableDef // registry entries this connection has seen
	created map[string]bool      // which of them exist as SQLite tables
	pending *tableDef
	ctx     atomic.Pointer[context.Context]
}

func (sc *sqlConn) queryContext() context.Context {
	if p := sc.ctx.Load(); p != nil {
		return *p
	}
	return context.Background()
}

type tableModule struct{}

func (tableModule) Create(vc vtab.Context, args []string) (vtab.Table, error) {
	return connectTable(vc, args)
}

func (tableModule) Connect(vc vtab.Context, args []string) (vtab.Table, error) {
	return connectTable(vc, args)
}

func connectTable(vc vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("%s: expected a connection argument", moduleName)
	}
	key := strings.Trim(args[3], `'" `)
	v, ok := connsByKey.Load(key)
	if !ok {
		return nil, fmt.Errorf("%s: unknown connection %q", moduleName, key)
	}
	sc := v.(*sqlConn)
	def := sc.pending
	if def == nil || !strings.EqualFold(def.name, args[2]) {
		return nil, fmt.Errorf("%s: table %q is not being created", moduleName, args[2])
	}
	if err := vc.Declare(declareSQL(def.name, def.columns)); err != nil {
		return nil, fmt.Errorf("declaring table %s: %w", def.name, err)
	}
	return &virtualTable{sc: sc, def: def}, nil
}

type virtualTable struct {
	sc  *sqlConn
	def *tableDef
}

// BestIndex offers every usable constraint to the table, as osqueryd does
// for indexed columns (extension columns are all indexed by default). SQLite
// keeps evaluating the WHERE clause itself (Omit stays false).
func (t *virtualTable) BestIndex(info *vtab.IndexInfo) error {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(info.ColUsed, 10))
	n, eq := 0, 0
	for i := range info.Constraints {
		c := &info.Constraints[i]
		if !c.Usable || c.Column < 0 || c.Column >= len(t.def.columns) {
			continue
		}
		op, ok := osqueryOp(c.Op)
		if !ok {
			continue
		}
		c.ArgIndex = n
		n++
		if op == OpEquals {
			eq++
		}
		fmt.Fprintf(&b, "|%d:%d", c.Column, op)
	}
	info.IdxStr = b.String()
	info.EstimatedCost = 1e6 / float64(1+10*eq+n)
	info.EstimatedRows = int64(1e5 / (1 + 10*eq + n))
	return nil
}

func (t *virtualTable) Open() (vtab.Cursor, error) { return &cursor{t: t}, nil }
func (t *virtualTable) Disconnect() error          { return nil }
func (t *virtualTable) Destroy() error             { return nil }

type cursor struct {
	t    *virtualTable
	rows rowSet
	pos  int
}

func (c *cursor) Filter(_ int, idxStr string, vals []vtab.Value) error {
	qc, err := parseIndexString(c.t.def.columns, idxStr, vals)
	if err != nil {
		return err
	}
	rows, err := c.t.def.generate(c.t.sc.queryContext(), qc)
	if err != nil {
		return err
	}
	c.rows, c.pos = rows, 0
	return nil
}

func (c *cursor) Next() error { c.pos++; return nil }
func (c *cursor) Eof() bool   { return c.rows == nil || c.pos >= c.rows.Len() }
func (c *cursor) Column(col int) (vtab.Value, error) {
	if c.Eof() || col < 0 || col >= len(c.t.def.columns) {
		return nil, nil
	}
	return c.rows.Value(c.pos, col), nil
}
func (c *cursor) Rowid() (int64, error) { return int64(c.pos), nil }
func (c *cursor) Close() error          { c.rows = nil; return nil }

func parseIndexString(cols []Column, idxStr string, vals []vtab.Value) (*QueryContext, error) {
	parts := strings.Split(idxStr, "|")
	used, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad index plan %q", idxStr)
	}
	qc := &QueryContext{Constraints: map[string][]Constraint{}, ColsUsedBitset: used}
	for i, c := range cols {
		bit := i
		if bit > 63 {
			bit = 63
		}
		if used&(1<<uint(bit)) != 0 {
			qc.ColsUsed = append(qc.ColsUsed, c.Name)
		}
	}
	for i, p := range parts[1:] {
		var col, op int
		if _, err := fmt.Sscanf(p, "%d:%d", &col, &op); err != nil || col < 0 || col >= len(cols) {
			return nil, fmt.Errorf("bad index plan %q", idxStr)
		}
		if i >= len(vals) {
			return nil, fmt.Errorf("index plan %q: missing argument %d", idxStr, i)
		}
		name := cols[col].Name
		qc.Constraints[name] = append(qc.Constraints[name], Constraint{Op: op, Expr: valueText(vals[i])})
	}
	return qc, nil
}

// valueText renders an SQLite value as sqlite3_value_text/column_text would.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatReal(x)
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999999-07:00")
	}
	return fmt.Sprint(v)
}

// formatReal mimics SQLite's "%!.15g" rendering of REAL values.
func formatReal(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	} else if i := strings.IndexByte(s, 'e'); i >= 0 && !strings.Contains(s[:i], ".") {
		s = s[:i] + ".0" + s[i:]
	}
	return s
}

// sqlEngine is a small pool of SQLite connections. Each query takes one
// connection for its whole run, so generate calls into extensions can run
// while other queries (for example the extension's own polling) proceed.
type sqlEngine struct {
	db   *sql.DB
	pool chan *sqlConn
	all  []*sqlConn
}

func newSQLEngine(ctx context.Context, size int) (*sqlEngine, error) {
	if err := registerModule(); err != nil {
		return nil, fmt.Errorf("registering sqlite module: %w", err)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	e := &sqlEngine{db: db, pool: make(chan *sqlConn, size)}
	for i := 0; i < size; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			e.close(ctx)
			return nil, fmt.Errorf("opening sqlite connection: %w", err)
		}
		sc := &sqlConn{key: "c" + strconv.FormatUint(connSeq.Add(1), 10), conn: conn, defs: map[string]*tableDef{}, created: map[string]bool{}}
		connsByKey.Store(sc.key, sc)
		e.all = append(e.all, sc)
		e.pool <- sc
	}
	return e, nil
}

func (e *sqlEngine) acquire(ctx context.Context) (*sqlConn, error) {
	select {
	case sc := <-e.pool:
		return sc, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for an sql connection: %w", ctx.Err())
	}
}

func (e *sqlEngine) release(sc *sqlConn) {
	sc.ctx.Store(nil)
	e.pool <- sc
}

// close waits (bounded by ctx) for connections in use, then closes all.
func (e *sqlEngine) close(ctx context.Context) {
wait:
	for range e.all {
		select {
		case <-e.pool:
		case <-ctx.Done():
			break wait
		}
	}
	for _, sc := range e.all {
		_ = sc.conn.Close()
		connsByKey.Delete(sc.key)
	}
	_ = e.db.Close()
}

// sync brings the connection's virtual tables in line with the registry.
// A table SQLite refuses to create is skipped (and reported once), so one
// bad extension table cannot break every query.
func (sc *sqlConn) sync(ctx context.Context, gen uint64, tables map[string]*tableDef) (skipped []error, err error) {
	if sc.gen == gen {
		return nil, nil
	}
	for name, d := range sc.defs {
		if tables[name] == d {
			continue
		}
		if sc.created[name] {
			if _, err := sc.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteIdent(name)); err != nil {
				return nil, fmt.Errorf("dropping table %s: %w", name, err)
			}
		}
		delete(sc.defs, name)
		delete(sc.created, name)
	}
	for name, d := range tables {
		if sc.defs[name] == d {
			continue
		}
		sc.pending = d
		_, err := sc.conn.ExecContext(ctx, fmt.Sprintf("CREATE VIRTUAL TABLE %s USING %s(%s)", quoteIdent(name), moduleName, sc.key))
		sc.pending = nil
		sc.defs[name] = d
		sc.created[name] = err == nil
		if err != nil {
			skipped = append(skipped, fmt.Errorf("creating table %s: %w", name, err))
		}
	}
	sc.gen = gen
	return skipped, nil
}

// run executes sql and returns the rows as osquery does: a map of column
// name to text value per row, NULL as "".
func (sc *sqlConn) run(ctx context.Context, query string) ([]map[string]string, error) {
	_, rows, err := sc.runTable(ctx, query)
	return rows, err
}

func (sc *sqlConn) runTable(ctx context.Context, query string) ([]string, []map[string]string, error) {
	sc.ctx.Store(&ctx)
	rows, err := sc.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, sqliteError(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, sqliteError(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []map[string]string{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, sqliteError(err)
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = valueText(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, sqliteError(err)
	}
	return cols, out, nil
}

// ColumnInfo is one result column of a query: its name and osquery type.
type ColumnInfo struct {
	Name string
	Type string
}

// columns reports the result columns of query with their declared types;
// expression columns are typed from the first row, as osqueryd does.
func (sc *sqlConn) columns(ctx context.Context, query string) ([]ColumnInfo, error) {
	sc.ctx.Store(&ctx)
	rows, err := sc.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, sqliteError(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, sqliteError(err)
	}
	out := make([]ColumnInfo, len(types))
	unknown := false
	for i, t := range types {
		typ := strings.ToUpper(t.DatabaseTypeName())
		if !validType(typ) {
			typ = typeUnknown
			unknown = true
		}
		out[i] = ColumnInfo{Name: t.Name(), Type: typ}
	}
	if unknown && rows.Next() {
		vals := make([]any, len(out))
		ptrs := make([]any, len(out))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, sqliteError(err)
		}
		for i := range out {
			if out[i].Type != typeUnknown {
				continue
			}
			switch vals[i].(type) {
			case int64:
				out[i].Type = TypeInteger
			case float64:
				out[i].Type = TypeDouble
			case []byte:
				out[i].Type = TypeBlob
			default:
				out[i].Type = TypeText
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteError(err)
	}
	return out, nil
}

var sqliteMessage = regexp.MustCompile(`^[A-Za-z ()]+?: (.*) \(\d+\)$`)

// sqliteError reduces a driver error to SQLite's own message, which is what
// osqueryd reports ("no such table: x").
func sqliteError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg := se.Error()
		if m := sqliteMessage.FindStringSubmatch(msg); m != nil {
			msg = m[1]
		}
		return &QueryError{Message: msg}
	}
	return &QueryError{Message: err.Error()}
}

// QueryError is a failed query: Message is what osqueryd would put in the
// ExtensionStatus (code 1).
type QueryError struct {
	Message string
}

func (e *QueryError) Error() string { return e.Message }
