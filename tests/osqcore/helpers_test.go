package osqcore

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"
)

// testLogWriter forwards the core's log to the test log until the test ends.
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// shortSocket returns a socket path short enough for unix sockets with the
// ".<uuid>" suffix extensions add.
func shortSocket(t testing.TB) string {
	dir, err := os.MkdirTemp("", "osqc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "osquery.em")
}

func startCore(t testing.TB, opts Options) *Core {
	t.Helper()
	if opts.Socket == "" {
		opts.Socket = shortSocket(t)
	}
	var w *testLogWriter
	if opts.Logger == nil {
		if testing.Verbose() {
			w = &testLogWriter{t: t}
			opts.Logger = slog.New(slog.NewTextHandler(w, nil))
		} else {
			opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	}
	if opts.ExtensionOutput == nil {
		opts.ExtensionOutput = io.Discard
		if w != nil {
			opts.ExtensionOutput = w
		}
	}
	core, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("starting core: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := core.Stop(ctx); err != nil {
			t.Errorf("stopping core: %v", err)
		}
		if w != nil {
			w.close()
		}
	})
	return core
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeExtension is a real osquery-go extension server with one table plugin
// that records the query contexts it is asked to generate.
type fakeExtension struct {
	server *osquery.ExtensionManagerServer
	done   chan error

	mu       sync.Mutex
	contexts []table.QueryContext
	rows     []map[string]string
}

func (f *fakeExtension) generate(_ context.Context, qc table.QueryContext) ([]map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contexts = append(f.contexts, qc)
	return f.rows, nil
}

func (f *fakeExtension) lastContext() (table.QueryContext, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.contexts) == 0 {
		return table.QueryContext{}, false
	}
	return f.contexts[len(f.contexts)-1], true
}

var thingsColumns = []table.ColumnDefinition{
	table.TextColumn("name"),
	table.BigIntColumn("size"),
	table.TextColumn("color"),
	table.DoubleColumn("weight"),
}

var thingsRows = []map[string]string{
	{"name": "apple", "size": "3", "color": "red", "weight": "0.5"},
	{"name": "sky", "size": "1000", "color": "blue", "weight": "0"},
	{"name": "rose", "size": "2", "color": "red", "weight": "0.25"},
}

// startExtension registers an osquery-go extension called name serving the
// table tableName against core and runs it until the test ends.
func startExtension(t testing.TB, core *Core, name, tableName string) *fakeExtension {
	t.Helper()
	f := &fakeExtension{done: make(chan error, 1), rows: thingsRows}
	srv, err := osquery.NewExtensionManagerServer(name, core.Socket(),
		osquery.ServerTimeout(5*time.Second), osquery.ServerPingInterval(time.Hour))
	if err != nil {
		t.Fatalf("creating extension server: %v", err)
	}
	srv.RegisterPlugin(table.NewPlugin(tableName, thingsColumns, f.generate))
	f.server = srv
	go func() { f.done <- srv.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	if _, err := core.WaitForExtension(testContext(t), name); err != nil {
		t.Fatalf("extension %s: %v", name, err)
	}
	return f
}

func mustQuery(t testing.TB, core *Core, sql string) []map[string]string {
	t.Helper()
	rows, err := core.Query(testContext(t), sql)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return rows
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func column(rows []map[string]string, name string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[name]
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// rawExtension answers the Extension service by hand: ping, and a table
// generate returning one row {"x":"boo"}.
type rawExtension struct{}

func (rawExtension) Ping(context.Context) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 0, Message: "pong"}, nil
}

func (rawExtension) Call(_ context.Context, registry, item string, req gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: gen.ExtensionPluginResponse{{"x": "boo"}}}, nil
}

func (rawExtension) Shutdown(context.Context) error { return nil }

// serveRawExtension serves rawExtension on path until the returned func is
// called (or the test ends).
func serveRawExtension(t testing.TB, path string) func() {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[conn] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				proto := thrift.NewTBinaryProtocolConf(thrift.NewTSocketFromConnConf(conn, nil), nil)
				proc := gen.NewExtensionProcessor(rawExtension{})
				for {
					if ok, err := proc.Process(context.Background(), proto, proto); !ok || err != nil {
						return
					}
				}
			}()
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
			os.Remove(path)
		})
	}
	t.Cleanup(stop)
	return stop
}

// managerConn is a raw ExtensionManager client (osquery-go's client has no
// shutdown()).
type managerConn struct {
	client *gen.ExtensionManagerClient
	conn   net.Conn
}

func (m *managerConn) Close() { m.conn.Close() }

func dialManager(path string) (*managerConn, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	sock := thrift.NewTSocketFromConnConf(conn, nil)
	return &managerConn{client: gen.NewExtensionManagerClientFactory(sock, thrift.NewTBinaryProtocolFactoryConf(nil)), conn: conn}, nil
}
