package osqcore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"
)

func TestExtensionTableReceivesConstraints(t *testing.T) {
	core := startCore(t, Options{})
	ext := startExtension(t, core, "things_ext", "things")

	rows := mustQuery(t, core, "SELECT name, size FROM things WHERE color = 'red' ORDER BY name")
	if got, want := column(rows, "name"), []string{"apple", "rose"}; !slices.Equal(got, want) {
		t.Fatalf("names = %v, want %v (SQLite must re-apply the WHERE)", got, want)
	}
	if len(rows[0]) != 2 {
		t.Errorf("row has columns %v, want only name and size", rows[0])
	}

	qc, ok := ext.lastContext()
	if !ok {
		t.Fatal("extension was never asked to generate")
	}
	want := table.ConstraintList{Affinity: table.ColumnTypeText, Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "red"}}}
	if got := qc.Constraints["color"]; !reflect.DeepEqual(got, want) {
		t.Errorf("color constraints seen by the plugin = %+v, want %+v", got, want)
	}
	if got := qc.Constraints["size"]; len(got.Constraints) != 0 || got.Affinity != table.ColumnTypeBigInt {
		t.Errorf("size constraints = %+v, want none with BIGINT affinity", got)
	}

	call, ok := core.LastGenerateCall("things")
	if !ok {
		t.Fatal("no generate call recorded")
	}
	var doc struct {
		Constraints []struct {
			Name     string            `json:"name"`
			List     []json.RawMessage `json:"list"`
			Affinity string            `json:"affinity"`
		} `json:"constraints"`
		ColsUsed       []string `json:"colsUsed"`
		ColsUsedBitset uint64   `json:"colsUsedBitset"`
	}
	if err := json.Unmarshal([]byte(call.Context), &doc); err != nil {
		t.Fatalf("context %s: %v", call.Context, err)
	}
	var names, affinities []string
	for _, c := range doc.Constraints {
		names = append(names, c.Name)
		affinities = append(affinities, c.Affinity)
		if c.List == nil {
			t.Errorf("column %s: list must be [] when unconstrained, got null", c.Name)
		}
	}
	if want := []string{"color", "name", "size", "weight"}; !slices.Equal(names, want) {
		t.Errorf("constraint entries %v, want one per column sorted by name %v", names, want)
	}
	if want := []string{"TEXT", "TEXT", "BIGINT", "DOUBLE"}; !slices.Equal(affinities, want) {
		t.Errorf("affinities %v, want %v", affinities, want)
	}
	if !strings.Contains(call.Context, `{"name":"color","list":[{"op":2,"expr":"red"}],"affinity":"TEXT"}`) {
		t.Errorf("context lacks the color constraint in osqueryd's shape: %s", call.Context)
	}
	sort.Strings(doc.ColsUsed)
	if want := []string{"color", "name", "size"}; !slices.Equal(doc.ColsUsed, want) {
		t.Errorf("colsUsed %v, want %v", doc.ColsUsed, want)
	}
	// Declared order: name(0) size(1) color(2) weight(3).
	if doc.ColsUsedBitset != 0b0111 {
		t.Errorf("colsUsedBitset %b, want 111", doc.ColsUsedBitset)
	}
}

func TestRangeConstraintsPushedDown(t *testing.T) {
	core := startCore(t, Options{})
	ext := startExtension(t, core, "things_ext", "things")

	rows := mustQuery(t, core, "SELECT name FROM things WHERE size > 2 AND size <= 1000 AND name LIKE '%p%'")
	if got := column(rows, "name"); !slices.Equal(got, []string{"apple"}) {
		t.Fatalf("names = %v, want [apple]", got)
	}
	qc, _ := ext.lastContext()
	got := qc.Constraints["size"].Constraints
	sort.Slice(got, func(i, j int) bool { return got[i].Operator < got[j].Operator })
	want := []table.Constraint{{Operator: table.OperatorGreaterThan, Expression: "2"}, {Operator: table.OperatorLessThanOrEquals, Expression: "1000"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("size constraints %+v, want %+v", got, want)
	}
	if like := qc.Constraints["name"].Constraints; len(like) != 1 || like[0].Operator != table.OperatorLike || like[0].Expression != "%p%" {
		t.Errorf("name constraints %+v, want LIKE %%p%%", like)
	}
}

func TestThriftClientQueries(t *testing.T) {
	core := startCore(t, Options{})
	startExtension(t, core, "things_ext", "things")

	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	rows, err := client.QueryRowsContext(ctx, "SELECT name, weight FROM things WHERE weight > 0.3")
	if err != nil {
		t.Fatal(err)
	}
	if want := []map[string]string{{"name": "apple", "weight": "0.5"}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %v, want %v", rows, want)
	}

	resp, err := client.QueryContext(ctx, "SELECT * FROM nope")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.Code != 1 || resp.Status.Message != "no such table: nope" {
		t.Errorf("status = %+v, want code 1 'no such table: nope'", resp.Status)
	}
	resp, err = client.QueryContext(ctx, "SELEC 1")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "syntax error") {
		t.Errorf("status = %+v, want a syntax error", resp.Status)
	}

	st, err := client.PingContext(ctx)
	if err != nil || st.Code != 0 {
		t.Errorf("ping = %+v, %v", st, err)
	}

	cols, err := client.GetQueryColumnsContext(ctx, "SELECT name, size, 1 + 1 AS two, pid FROM things, osquery_info")
	if err != nil {
		t.Fatal(err)
	}
	want := gen.ExtensionPluginResponse{{"name": "TEXT"}, {"size": "BIGINT"}, {"two": "INTEGER"}, {"pid": "INTEGER"}}
	if cols.Status.Code != 0 || !reflect.DeepEqual(cols.Response, want) {
		t.Errorf("getQueryColumns = %+v %v, want %v", cols.Status, cols.Response, want)
	}

	exts, err := client.ExtensionsContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(exts) != 1 {
		t.Fatalf("extensions() = %v, want one", exts)
	}
	for id, info := range exts {
		if info.Name != "things_ext" || id <= 0 || id > 65535 {
			t.Errorf("extension %d = %+v", id, info)
		}
	}

	opts, err := client.OptionsContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o := opts["disable_audit"]; o == nil || o.Value != "false" || o.DefaultValue != "true" || o.Type != "bool" {
		t.Errorf("options[disable_audit] = %+v", o)
	}
	if o := opts["extensions_socket"]; o == nil || o.Value != core.Socket() {
		t.Errorf("options[extensions_socket] = %+v, want %s", o, core.Socket())
	}
}

func TestRegistrationRefusals(t *testing.T) {
	core := startCore(t, Options{})
	startExtension(t, core, "things_ext", "things")

	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tableRoutes := func(name string) gen.ExtensionRegistry {
		return gen.ExtensionRegistry{"table": {name: {{"id": "column", "name": "x", "type": "TEXT", "op": "0"}}}}
	}
	tests := []struct {
		name     string
		ext      string
		registry gen.ExtensionRegistry
		code     int32
		message  string
	}{
		{"duplicate extension name", "things_ext", tableRoutes("other"), 1, "Duplicate extension registered"},
		{"duplicate extension table", "second", tableRoutes("things"), 1, "Failed adding registry: Duplicate registry item exists"},
		{"duplicate core table", "third", tableRoutes("processes"), 1, "Failed adding registry: Duplicate registry item exists"},
		{"bad column type", "fourth", gen.ExtensionRegistry{"table": {"t4": {{"id": "column", "name": "x", "type": "WIDE"}}}}, 1, `Failed adding registry: table "t4" column "x": unknown type "WIDE"`},
		{"accepted", "fifth", tableRoutes("fresh"), 0, "OK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := client.RegisterExtension(&gen.InternalExtensionInfo{Name: tc.ext}, tc.registry)
			if err != nil {
				t.Fatal(err)
			}
			if st.Code != tc.code || st.Message != tc.message {
				t.Errorf("status = %d %q, want %d %q", st.Code, st.Message, tc.code, tc.message)
			}
			if tc.code == 0 && st.UUID == 0 {
				t.Error("accepted registration without a uuid")
			}
		})
	}
	if got := len(core.Extensions()); got != 2 {
		t.Errorf("%d extensions registered, want 2: %+v", got, core.Extensions())
	}
	st, err := client.DeregisterExtension(12345678)
	if err != nil || st.Code != 1 || st.Message != "No extension UUID registered" {
		t.Errorf("deregister unknown = %+v, %v", st, err)
	}
}

func TestPingFailureDropsExtension(t *testing.T) {
	core := startCore(t, Options{PingInterval: 50 * time.Millisecond})
	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	reg := gen.ExtensionRegistry{"table": {"ghost_table": {{"id": "column", "name": "x", "type": "TEXT", "op": "0"}}}}
	st, err := client.RegisterExtension(&gen.InternalExtensionInfo{Name: "ghost"}, reg)
	if err != nil || st.Code != 0 {
		t.Fatalf("registering: %+v %v", st, err)
	}
	stopServing := serveRawExtension(t, core.Socket()+"."+itoa(int64(st.UUID)))
	rows := mustQuery(t, core, "SELECT x FROM ghost_table")
	if want := []map[string]string{{"x": "boo"}}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	waitFor(t, "a successful ping", func() bool {
		core.mu.Lock()
		defer core.mu.Unlock()
		e := core.extensions[int64(st.UUID)]
		return e != nil && e.answered
	})

	stopServing() // the extension's socket goes away without deregistering
	waitFor(t, "the extension to be dropped", func() bool { return len(core.Extensions()) == 0 })
	if _, err := core.Query(testContext(t), "SELECT * FROM ghost_table"); err == nil || err.Error() != "no such table: ghost_table" {
		t.Errorf("query after drop: %v, want no such table", err)
	}
}

func TestDropExtensionRemovesTablesSilently(t *testing.T) {
	core := startCore(t, Options{})
	ext := startExtension(t, core, "things_ext", "things")
	if !core.DropExtension("things_ext") {
		t.Fatal("DropExtension found nothing")
	}
	if core.DropExtension("things_ext") {
		t.Fatal("DropExtension dropped twice")
	}
	if _, err := core.Query(testContext(t), "SELECT * FROM things"); err == nil || err.Error() != "no such table: things" {
		t.Errorf("query after drop: %v, want no such table", err)
	}
	rows := mustQuery(t, core, "SELECT name FROM osquery_registry WHERE name = 'things'")
	if len(rows) != 0 {
		t.Errorf("registry still lists things: %v", rows)
	}
	select {
	case err := <-ext.done:
		t.Fatalf("extension noticed the drop and stopped (%v); osqueryd does not tell it", err)
	default:
	}
	// Registering again under the same name now works.
	startExtension(t, core, "things_ext", "things")
}

func TestStopShutsDownExtensions(t *testing.T) {
	core := startCore(t, Options{})
	ext := startExtension(t, core, "things_ext", "things")

	// A client that never closes its connection must not block Stop.
	idle, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := idle.QueryRows("SELECT 1"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := core.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ext.done:
		if err != nil {
			t.Errorf("extension Run returned %v after shutdown, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("extension did not stop after the core's shutdown()")
	}
	if _, err := core.Query(ctx, "SELECT 1"); err == nil {
		t.Error("query after Stop succeeded")
	}
	if err := core.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestManagerShutdownIsReported(t *testing.T) {
	core := startCore(t, Options{})
	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sock, err := dialManager(core.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if err := sock.client.Shutdown(testContext(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-core.ShutdownRequested():
	case <-testContext(t).Done():
		t.Fatal("shutdown() on the manager was not reported")
	}
}

func TestCallReachesCoreTablePlugins(t *testing.T) {
	core := startCore(t, Options{})
	if err := core.SetProcess(map[string]string{"pid": "42", "path": "/usr/bin/vim", "cmdline": "vim x"}); err != nil {
		t.Fatal(err)
	}
	if err := core.SetProcess(map[string]string{"pid": "43", "path": "/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctxJSON := `{"constraints":[{"name":"pid","list":[{"op":2,"expr":"42"}],"affinity":"BIGINT"}]}`
	resp, err := client.Call("table", "processes", gen.ExtensionPluginRequest{"action": "generate", "context": ctxJSON})
	if err != nil {
		t.Fatal(err)
	}
	// Core generate ignores non-time constraints (SQLite filters later), so
	// both rows come back; values are text.
	if resp.Status.Code != 0 || len(resp.Response) != 2 || resp.Response[0]["name"] != "vim" {
		t.Errorf("generate processes = %+v %v", resp.Status, resp.Response)
	}
	resp, err = client.Call("table", "socket_events", gen.ExtensionPluginRequest{"action": "columns"})
	if err != nil {
		t.Fatal(err)
	}
	hiddenCols := map[string]bool{}
	for _, r := range resp.Response {
		if r["op"] == "16" {
			hiddenCols[r["name"]] = true
		}
	}
	if want := map[string]bool{"protocol": true, "socket": true, "eid": true, "success": true}; !reflect.DeepEqual(hiddenCols, want) {
		t.Errorf("hidden socket_events columns %v, want %v", hiddenCols, want)
	}
	for _, tc := range []struct{ registry, item, message string }{
		{"table", "nope", "Unknown registry item: nope"},
		{"bogus", "x", "Unknown registry: bogus"},
	} {
		resp, err := client.Call(tc.registry, tc.item, gen.ExtensionPluginRequest{"action": "generate"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status.Code != 1 || resp.Status.Message != tc.message {
			t.Errorf("call(%s, %s) = %+v, want %q", tc.registry, tc.item, resp.Status, tc.message)
		}
	}
}

func TestUncreatableTableDoesNotBreakQueries(t *testing.T) {
	core := startCore(t, Options{})
	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	reg := gen.ExtensionRegistry{"table": {
		"sqlite_reserved": {{"id": "column", "name": "x", "type": "TEXT"}},
		`odd"name`:        {{"id": "column", "name": `we"ird`, "type": "TEXT"}},
	}}
	st, err := client.RegisterExtension(&gen.InternalExtensionInfo{Name: "odd"}, reg)
	if err != nil || st.Code != 0 {
		t.Fatalf("register: %+v %v", st, err)
	}
	serveRawExtension(t, core.Socket()+"."+itoa(int64(st.UUID)))
	if rows := mustQuery(t, core, "SELECT 1 AS one"); len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	if _, err := core.Query(testContext(t), "SELECT * FROM sqlite_reserved"); err == nil {
		t.Error("a table SQLite refuses to create answered")
	}
	// rawExtension answers every generate with {"x":"boo"}; the declared
	// column is we"ird, so the row has NULL there.
	rows := mustQuery(t, core, `SELECT "we""ird" AS w FROM "odd""name"`)
	if want := []map[string]string{{"w": ""}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	core, err := Start(context.Background(), Options{Socket: shortSocket(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PingInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	client, err := osquery.NewClient(core.Socket(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // a no-op at the pinned osquery-go: the connection stays open
	if _, err := client.QueryRows("SELECT * FROM osquery_info"); err != nil {
		t.Fatal(err)
	}
	st, err := client.RegisterExtension(&gen.InternalExtensionInfo{Name: "raw"}, gen.ExtensionRegistry{"table": {"raw_t": {{"id": "column", "name": "x", "type": "TEXT"}}}})
	if err != nil || st.Code != 0 {
		t.Fatalf("register: %+v %v", st, err)
	}
	stopRaw := serveRawExtension(t, core.Socket()+"."+itoa(int64(st.UUID)))
	mustQuery(t, core, "SELECT * FROM raw_t")
	if err := core.Stop(testContext(t)); err != nil {
		t.Fatal(err)
	}
	stopRaw()
	waitFor(t, "goroutines to wind down", func() bool { return runtime.NumGoroutine() <= before })
	if _, err := os.Stat(core.Socket()); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

func TestGenerateErrorFailsTheQuery(t *testing.T) {
	core := startCore(t, Options{})
	srv, err := osquery.NewExtensionManagerServer("failing_ext", core.Socket(), osquery.ServerTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterPlugin(table.NewPlugin("failing", []table.ColumnDefinition{table.TextColumn("x")},
		func(context.Context, table.QueryContext) ([]map[string]string, error) {
			return nil, errors.New("disk on fire")
		}))
	go srv.Run()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	waitFor(t, "registration", func() bool { return len(core.Extensions()) == 1 })
	var qerr error
	waitFor(t, "the extension socket", func() bool {
		_, qerr = core.Query(testContext(t), "SELECT * FROM failing")
		return qerr != nil && !strings.Contains(qerr.Error(), "connecting to extension")
	})
	var qe *QueryError
	if !errors.As(qerr, &qe) || qe.Message != "error generating table: disk on fire" {
		t.Errorf("error %v, want the extension's status message", qerr)
	}
}
