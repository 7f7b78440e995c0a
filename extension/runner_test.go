package extension

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	osquery "github.com/osquery/osquery-go"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/rules"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

const reverseShellRule = "fa3a59dc-33c3-43bf-80a9-e8437a922c7f"

// probeTables are minimal tables over the runner's store and health, so the
// runner's behaviour can be observed through the core's SQL in-process.
func probeTables(_ config.Config, _ *rules.Set, st *store.Store, h *Health) ([]osquery.OsqueryPlugin, error) {
	alerts := table.NewPlugin("probe_alerts", []table.ColumnDefinition{
		table.TextColumn("id"), table.TextColumn("rule_id"), table.BigIntColumn("pid"),
	}, func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		as, err := st.Alerts(ctx, store.AlertQuery{})
		if err != nil {
			return nil, err
		}
		rows := make([]map[string]string, len(as))
		for i, a := range as {
			rows[i] = map[string]string{"id": a.ID, "rule_id": a.RuleID, "pid": strconv.FormatInt(a.Pid, 10)}
		}
		return rows, nil
	})
	health := table.NewPlugin("probe_health", []table.ColumnDefinition{
		table.TextColumn("source"), table.IntegerColumn("events_enabled"), table.BigIntColumn("delivered"),
		table.TextColumn("problem"),
	}, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		s := h.Snapshot()
		var rows []map[string]string
		for _, src := range s.Sources {
			en := "0"
			if src.EventsEnabled {
				en = "1"
			}
			rows = append(rows, map[string]string{"source": src.Table, "events_enabled": en,
				"delivered": strconv.FormatInt(src.RowsDelivered, 10), "problem": src.EventsProblem})
		}
		return rows, nil
	})
	return []osquery.OsqueryPlugin{alerts, health}, nil
}

func startTestCore(t testing.TB, opts osqcore.Options) *osqcore.Core {
	t.Helper()
	dir, err := os.MkdirTemp("", "osqx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts.Socket = filepath.Join(dir, "osquery.em")
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.ExtensionOutput = io.Discard
	if opts.PingInterval == 0 {
		opts.PingInterval = 200 * time.Millisecond
	}
	core, err := osqcore.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = core.Stop(ctx)
	})
	return core
}

func startRunner(t *testing.T, core *osqcore.Core, stateDir string) (cancel func() error) {
	t.Helper()
	cfg := config.Defaults()
	cfg.StateDir = stateDir
	cfg.PollInterval = 100 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Socket: core.Socket(), Timeout: 5 * time.Second, Interval: 200 * time.Millisecond,
			Config: cfg, Tables: probeTables,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	return func() error {
		stop()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("runner did not stop within 10s of cancel")
			return nil
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in 15s; last state: %s", what, last)
}

func queryCore(t *testing.T, core *osqcore.Core, sql string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := core.Query(ctx, sql)
	if err != nil {
		t.Logf("query %q: %v", sql, err)
		return nil
	}
	return rows
}

func injectReverseShell(t *testing.T, core *osqcore.Core, pid int) {
	t.Helper()
	p := strconv.Itoa(pid)
	mustInject(t, core.InjectProcessEvents, map[string]string{"pid": "4000", "parent": "1", "path": "/usr/bin/bash", "cmdline": "bash", "cwd": "/tmp", "uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000", "auid": "1000", "syscall": "execve"})
	mustInject(t, core.InjectProcessEvents, map[string]string{"pid": p, "parent": "4000", "path": "/tmp/x", "cmdline": "/tmp/x", "cwd": "/tmp", "uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000", "auid": "1000", "syscall": "execve"})
	mustInject(t, core.InjectSocketEvents, map[string]string{"action": "connect", "pid": p, "path": "/tmp/x", "fd": "3", "auid": "1000", "family": "2", "remote_address": "203.0.113.9", "remote_port": "4444"})
	mustInject(t, core.InjectProcessEvents, map[string]string{"pid": p, "parent": "4000", "path": "/bin/sh", "cmdline": "/bin/sh -i", "cwd": "/tmp", "uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000", "auid": "1000", "syscall": "execve"})
}

func mustInject(t *testing.T, inject func(...map[string]string) ([]map[string]string, error), row map[string]string) {
	t.Helper()
	if _, err := inject(row); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerDetectsReregistersAndStops(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	stop := startRunner(t, core, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := core.WaitForExtension(ctx, Name); err != nil {
		t.Fatal(err)
	}

	injectReverseShell(t, core, 4242)
	eventually(t, "reverse shell alert", func() (bool, string) {
		rows := queryCore(t, core, "SELECT rule_id, pid FROM probe_alerts")
		return len(rows) == 1 && rows[0]["rule_id"] == reverseShellRule && rows[0]["pid"] == "4242", stringify(rows)
	})
	eventually(t, "health counts every event", func() (bool, string) {
		rows := queryCore(t, core, "SELECT source, delivered, events_enabled FROM probe_health ORDER BY source")
		return len(rows) == 2 && rows[0]["delivered"] == "3" && rows[1]["delivered"] == "1" && rows[0]["events_enabled"] == "1", stringify(rows)
	})

	// osqueryd drops an extension after one failed ping without telling it.
	if !core.DropExtension(Name) {
		t.Fatal("extension was not registered")
	}
	eventually(t, "registered again", func() (bool, string) {
		rows := queryCore(t, core, "SELECT rule_id FROM probe_alerts")
		return len(rows) == 1, stringify(rows)
	})

	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	for _, e := range core.Extensions() {
		if e.Name == Name {
			t.Error("extension still registered after stopping")
		}
	}
}

func TestRunnerReportsDisabledEvents(t *testing.T) {
	core := startTestCore(t, osqcore.Options{Flags: map[string]string{"audit_allow_sockets": "false"}})
	stop := startRunner(t, core, t.TempDir())
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := core.WaitForExtension(ctx, Name); err != nil {
		t.Fatal(err)
	}
	rows := queryCore(t, core, "SELECT source, events_enabled, problem FROM probe_health WHERE source = 'socket_events'")
	if len(rows) != 1 || rows[0]["events_enabled"] != "0" || rows[0]["problem"] == "" {
		t.Fatalf("socket_events health %v, want disabled with the flag to change", rows)
	}
	t.Logf("problem reported: %s", rows[0]["problem"])
}

func TestRunnerExitsWhenOsqueryShutsItDown(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{Socket: core.Socket(), Interval: 200 * time.Millisecond, Config: cfg, Tables: probeTables})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := core.WaitForExtension(ctx, Name); err != nil {
		t.Fatal(err)
	}
	if err := core.Stop(ctx); err != nil { // sends shutdown() to every extension
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after osquery's shutdown call: %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after osquery's shutdown call")
	}
}

func stringify(rows []map[string]string) string {
	s := ""
	for _, r := range rows {
		s += "{"
		for k, v := range r {
			s += k + "=" + v + " "
		}
		s += "} "
	}
	return s
}

// osqueryd's shutdown call makes the extension's server deregister and only
// then stop: a watch between the two sees the extension unlisted. That is
// the shutdown (the run ends and saves), not a drop to register again from
// (which osqueryd, shutting down, answers with a kill 3 s later).
func TestWatchTellsShutdownFromADrop(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	for _, tc := range []struct {
		name         string
		serverStops  bool
		wantShutdown bool
	}{
		{"deregistered, then the server stops", true, true},
		{"dropped, the server still serving", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newRunner(Options{Socket: core.Socket(), Interval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer r.client.Close()
			r.deps = &wiring{}
			srv, err := osquery.NewExtensionManagerServer(Name, core.Socket(), osquery.WithClient(r.client))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			r.server, r.serveDone = srv, done
			if tc.serverStops {
				time.AfterFunc(100*time.Millisecond, func() { done <- nil })
			}
			err = r.watch(context.Background())
			defer r.unregister()
			if got := errors.Is(err, errShutdownRequested); got != tc.wantShutdown {
				t.Fatalf("watch = %v, want shutdown %v", err, tc.wantShutdown)
			}
			if tc.wantShutdown {
				return
			}
			if err != nil || r.server == srv {
				t.Fatalf("watch = %v; want a new registration", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := core.WaitForExtension(ctx, Name); err != nil {
				t.Fatalf("not registered again: %v", err)
			}
		})
	}
}

// After a restart the durable cache is the truth: seeding from processes
// adds only what the cache does not know, began before the cursor, and fits
// without evicting anything an uninterrupted run would still hold.
func TestSeedAfterRestoreNeverEvicts(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	for pid := 100; pid < 110; pid++ {
		if err := core.SetProcess(map[string]string{"pid": strconv.Itoa(pid), "parent": "1", "path": "/usr/bin/p", "start_time": "1000"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := core.SetProcess(map[string]string{"pid": "200", "parent": "1", "path": "/usr/bin/late", "start_time": "3000"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		capacity int
		known    int // processes the restored cache holds (not in processes)
		want     int // cache size after seeding
	}{
		{"room for all that began before the cursor", 100, 5, 15},
		{"room for some", 8, 5, 8},
		{"full", 5, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newRunner(Options{Socket: core.Socket()})
			if err != nil {
				t.Fatal(err)
			}
			defer r.client.Close()
			r.host = "h"
			r.sensor = detect.NewSensor(nil, detect.SensorOptions{MaxProcesses: tc.capacity})
			rows := make([]map[string]string, tc.known)
			for i := range rows {
				rows[i] = map[string]string{"pid": strconv.Itoa(10 + i), "parent": "1", "path": "/bin/k", "start_time": "500"}
			}
			if _, err := r.sensor.Seed("h", rows); err != nil {
				t.Fatal(err)
			}
			r.state.Cursor = Cursor{Time: 2000}
			r.seed(context.Background(), true)
			if got := tc.capacity - r.sensor.ProcessCacheRoom(); got != tc.want {
				t.Errorf("cache holds %d, want %d", got, tc.want)
			}
			for i := 0; i < tc.known; i++ {
				if !r.sensor.KnowsProcess("h", int64(10+i)) {
					t.Errorf("pid %d was evicted by the seed", 10+i)
				}
			}
			if r.sensor.KnowsProcess("h", 200) {
				t.Error("a process that began after the cursor was seeded (its exec is still to be read)")
			}
		})
	}
}
