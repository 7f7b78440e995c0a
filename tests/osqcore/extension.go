package osqcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
)

// extensionConn is one connection from the core to an extension's socket,
// as osqueryd opens one per call.
type extensionConn struct {
	client *gen.ExtensionClient
	conn   net.Conn
	stop   func() bool
}

func (e *extensionConn) Close() {
	e.stop()
	e.conn.Close()
}

func (c *Core) dialExtension(ctx context.Context, id int64) (*extensionConn, error) {
	path := c.opts.Socket + "." + strconv.FormatInt(id, 10)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to extension %d: %w", id, err)
	}
	cfg := &thrift.TConfiguration{}
	if dl, ok := ctx.Deadline(); ok {
		cfg.SocketTimeout = time.Until(dl)
		if cfg.SocketTimeout <= 0 {
			conn.Close()
			return nil, fmt.Errorf("connecting to extension %d: %w", id, context.DeadlineExceeded)
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sock := thrift.NewTSocketFromConnConf(conn, cfg)
	trans := thrift.NewTBufferedTransport(sock, 64*1024)
	client := gen.NewExtensionClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(cfg))
	return &extensionConn{client: client, conn: conn, stop: stop}, nil
}

func (c *Core) pingExtension(ctx context.Context, id int64) error {
	ec, err := c.dialExtension(ctx, id)
	if err != nil {
		return err
	}
	defer ec.Close()
	st, err := ec.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("pinging extension %d: %w", id, err)
	}
	if st.Code != 0 {
		return fmt.Errorf("pinging extension %d: status %d: %s", id, st.Code, st.Message)
	}
	return nil
}

func (c *Core) shutdownExtension(ctx context.Context, id int64) error {
	ec, err := c.dialExtension(ctx, id)
	if err != nil {
		return err
	}
	defer ec.Close()
	if err := ec.client.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down extension %d: %w", id, err)
	}
	return nil
}

// callExtension sends call(registry, item, request) to extension id.
func (c *Core) callExtension(ctx context.Context, id int64, registry, item string, req map[string]string) (*gen.ExtensionResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	ec, err := c.dialExtension(ctx, id)
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	resp, err := ec.client.Call(ctx, registry, item, req)
	if err != nil {
		return nil, fmt.Errorf("calling %s/%s on extension %d: %w", registry, item, id, err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("calling %s/%s on extension %d: response without status", registry, item, id)
	}
	return resp, nil
}

// extensionTable is a table whose rows come from an extension's generate.
func (c *Core) extensionTable(id int64, name string, cols []Column) *tableDef {
	return &tableDef{
		name: name, columns: cols, owner: id,
		generate: func(ctx context.Context, qc *QueryContext) (rowSet, error) {
			ctxJSON := ContextJSON(cols, qc)
			c.recordGenerate(GenerateCall{Table: name, Context: ctxJSON, Parsed: *qc})
			resp, err := c.callExtension(ctx, id, "table", name, map[string]string{"action": "generate", "context": ctxJSON})
			if err != nil {
				return nil, err
			}
			if resp.Status.Code != 0 {
				return nil, errors.New(resp.Status.Message)
			}
			return stringRows{cols: cols, rows: resp.Response}, nil
		},
	}
}

type contextConstraint struct {
	Op   int    `json:"op"`
	Expr string `json:"expr"`
}

type contextColumn struct {
	Name     string              `json:"name"`
	List     []contextConstraint `json:"list"`
	Affinity string              `json:"affinity"`
}

type contextDoc struct {
	Constraints    []contextColumn `json:"constraints"`
	ColsUsed       []string        `json:"colsUsed"`
	ColsUsedBitset uint64          `json:"colsUsedBitset"`
}

// ContextJSON renders a query context as osqueryd sends it with a table
// generate request: one constraint entry per declared column sorted by
// name (an empty list when unconstrained), then colsUsed and its bitset.
func ContextJSON(cols []Column, qc *QueryContext) string {
	doc := contextDoc{Constraints: make([]contextColumn, 0, len(cols)), ColsUsed: []string{}, ColsUsedBitset: qc.ColsUsedBitset}
	for _, i := range sortedColumnNames(cols) {
		col := cols[i]
		entry := contextColumn{Name: col.Name, List: []contextConstraint{}, Affinity: col.Type}
		for _, k := range qc.Constraints[col.Name] {
			entry.List = append(entry.List, contextConstraint(k))
		}
		doc.Constraints = append(doc.Constraints, entry)
	}
	doc.ColsUsed = append(doc.ColsUsed, qc.ColsUsed...)
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("osqcore: encoding query context: %v", err)) // only strings and ints: cannot fail
	}
	return string(b)
}

// ParseContextJSON parses a generate context as osqueryd (or ContextJSON)
// writes it. An unconstrained column may carry "" instead of [] (older
// osqueryd versions).
func ParseContextJSON(s string) (*QueryContext, error) {
	var doc struct {
		Constraints []struct {
			Name string          `json:"name"`
			List json.RawMessage `json:"list"`
		} `json:"constraints"`
		ColsUsed       []string `json:"colsUsed"`
		ColsUsedBitset uint64   `json:"colsUsedBitset"`
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return nil, fmt.Errorf("parsing query context: %w", err)
	}
	qc := &QueryContext{Constraints: map[string][]Constraint{}, ColsUsed: doc.ColsUsed, ColsUsedBitset: doc.ColsUsedBitset}
	for i, col := range doc.Constraints {
		if col.Name == "" {
			return nil, fmt.Errorf("parsing query context: constraint entry %d has no column name", i)
		}
		var empty string
		if len(col.List) == 0 || json.Unmarshal(col.List, &empty) == nil {
			continue
		}
		var list []struct {
			Op   json.Number `json:"op"`
			Expr *string     `json:"expr"`
		}
		if err := json.Unmarshal(col.List, &list); err != nil {
			return nil, fmt.Errorf("parsing query context: column %q: %w", col.Name, err)
		}
		for j, k := range list {
			op, err := strconv.Atoi(string(k.Op))
			if err != nil || k.Expr == nil {
				return nil, fmt.Errorf("parsing query context: column %q constraint %d: want numeric op and string expr", col.Name, j)
			}
			qc.Constraints[col.Name] = append(qc.Constraints[col.Name], Constraint{Op: op, Expr: *k.Expr})
		}
	}
	return qc, nil
}

// callRegistry answers call() on the manager: core table plugins handle
// "generate" and "columns"; items an extension registered are forwarded.
func (c *Core) callRegistry(ctx context.Context, registry, item string, req map[string]string) *gen.ExtensionResponse {
	fail := func(msg string) *gen.ExtensionResponse {
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: msg}}
	}
	c.mu.Lock()
	var owner int64
	var def *tableDef
	if registry == "table" {
		if def = c.tables[item]; def != nil {
			owner = def.owner
		}
	} else {
		for id, e := range c.extensions {
			if _, ok := e.registry[registry][item]; ok {
				owner = id
			}
		}
	}
	c.mu.Unlock()
	if owner != 0 {
		resp, err := c.callExtension(ctx, owner, registry, item, req)
		if err != nil {
			return fail(err.Error())
		}
		return resp
	}
	switch registry {
	case "table":
	case "config", "logger", "distributed", "killswitch", "numeric_monitoring", "enroll", "database", "sql":
		return fail(fmt.Sprintf("Cannot call registry item: %s/%s", registry, item))
	default:
		return fail("Unknown registry: " + registry)
	}
	if def == nil {
		return fail("Unknown registry item: " + item)
	}
	switch req["action"] {
	case "columns":
		var resp gen.ExtensionPluginResponse
		for _, col := range def.columns {
			op := "0"
			if col.Hidden {
				op = strconv.Itoa(columnHidden)
			}
			resp = append(resp, map[string]string{"id": "column", "name": col.Name, "type": col.Type, "op": op})
		}
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: resp}
	case "generate":
		qc := &QueryContext{Constraints: map[string][]Constraint{}}
		if s := req["context"]; s != "" {
			var err error
			if qc, err = ParseContextJSON(s); err != nil {
				return fail(err.Error())
			}
		}
		rows, err := def.generate(ctx, qc)
		if err != nil {
			return fail(err.Error())
		}
		resp := make(gen.ExtensionPluginResponse, 0, rows.Len())
		for r := 0; r < rows.Len(); r++ {
			row := make(map[string]string, len(def.columns))
			for i, col := range def.columns {
				row[col.Name] = valueText(rows.Value(r, i))
			}
			resp = append(resp, row)
		}
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: resp}
	}
	return fail("Unknown action: " + req["action"])
}

// LaunchExtension starts an extension binary the way osqueryd's autoloader
// does: argv `<path> [--verbose] --socket <sock> --timeout <n> --interval <n>`
// and OSQUERY_EXTENSION=<its own pid> in the environment (plus env). Its
// output goes to Options.ExtensionOutput. Cancelling ctx sends SIGTERM
// (then SIGKILL after 5s). The caller waits for the returned command.
func (c *Core) LaunchExtension(ctx context.Context, path string, verbose bool, env []string) (*exec.Cmd, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("launching extension: %w", err)
	}
	// The shell exports its own pid and execs the extension in place, so
	// the pid in OSQUERY_EXTENSION is the extension's, as after osqueryd's
	// fork.
	args := []string{"-c", `OSQUERY_EXTENSION=$$; export OSQUERY_EXTENSION; exec "$0" "$@"`, path}
	if verbose {
		args = append(args, "--verbose")
	}
	args = append(args, "--socket", c.opts.Socket, "--timeout", c.Flag("extensions_timeout"), "--interval", c.Flag("extensions_interval"))
	cmd := exec.CommandContext(ctx, "/bin/sh", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = c.opts.ExtensionOutput
	cmd.Stderr = c.opts.ExtensionOutput
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launching extension %s: %w", path, err)
	}
	c.log.Info("launched extension", "path", path, "pid", cmd.Process.Pid)
	return cmd, nil
}

// WaitForExtension returns once an extension called name is registered,
// answers a ping, and each of its tables answers a query.
func (c *Core) WaitForExtension(ctx context.Context, name string) (ExtensionInfo, error) {
	var lastErr error
	for {
		for _, info := range c.Extensions() {
			if info.Name != name {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			lastErr = c.pingExtension(pctx, info.UUID)
			cancel()
			for _, t := range info.Tables {
				if lastErr != nil {
					break
				}
				_, lastErr = c.Query(ctx, "SELECT * FROM "+quoteIdent(t)+" LIMIT 1")
			}
			if lastErr == nil {
				return info, nil
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return ExtensionInfo{}, fmt.Errorf("waiting for extension %q: %w (last error: %v)", name, ctx.Err(), lastErr)
			}
			return ExtensionInfo{}, fmt.Errorf("waiting for extension %q to register: %w", name, ctx.Err())
		case <-c.stopping:
			return ExtensionInfo{}, fmt.Errorf("waiting for extension %q: core stopped", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
