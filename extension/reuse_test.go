package extension

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// scribbler asks the core through a CoreClient. With reuse on, it hands
// each query the buffers of the previous answer of that table, scribbled
// over first, so that any string kept from an earlier page (instead of
// copied) reads garbage; with reuse off every answer has fresh buffers,
// never written again.
type scribbler struct {
	c     *CoreClient
	reuse bool
}

func (s *scribbler) QueryRows(ctx context.Context, sql string) ([]map[string]string, error) {
	return s.c.QueryRows(ctx, sql)
}

func (s *scribbler) QueryColumns(ctx context.Context, sql string, columns []string, reuse ColumnRows) (ColumnRows, error) {
	if !s.reuse {
		return s.c.QueryColumns(ctx, sql, columns, ColumnRows{})
	}
	b := reuse.buf[:cap(reuse.buf)]
	for i := range b {
		b[i] = '#'
	}
	return s.c.QueryColumns(ctx, sql, columns, reuse)
}

// The poll path decodes each page into the previous page's buffers: what
// outlives a page (alerts, the process cache, pending sequences, the
// cursor, the store's state) must hold copies, never views of an answer.
// Two runners read the same core page by page (a second in parts), one into fresh buffers,
// the other into buffers scribbled over before each reuse: they raise the
// same alerts and hold the same durable state after every page.
func TestPagesKeepNoViewOfTheirAnswer(t *testing.T) {
	core := startTestCore(t, osqcore.Options{})
	base := time.Now().Add(-time.Hour)
	sec := 0
	clock := func() time.Time { return base.Add(time.Duration(sec) * time.Second) }
	core.SetClock(clock)
	polled := func() time.Time { return clock().Add(time.Second) }

	newTestRunner := func(reuse bool) *runner {
		client := NewCoreClient(core.Socket(), 10*time.Second)
		t.Cleanup(client.Close)
		cfg := config.Defaults()
		cfg.StateDir = filepath.Join(t.TempDir(), "state")
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			t.Fatal(err)
		}
		r, err := newRunner(Options{Socket: core.Socket(), Config: cfg, Now: polled,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		deps, err := openWiring(context.Background(), r.opts, r.health, r.log)
		if err != nil {
			t.Fatal(err)
		}
		r.deps = deps
		t.Cleanup(r.close)
		r.host = "reuse-host"
		r.sensor = detect.NewSensor(deps.rules.Rules, deps.sensorOptions())
		sources := []Source{ProcessEventsSource, SocketEventsSource}
		r.setup = EventsSetup{Sources: sources, ExpirySeconds: 3600}
		r.poller = NewPoller(&scribbler{c: client, reuse: reuse}, sources)
		r.poller.Now = polled
		r.poller.MaxRows = 25 // seconds of more rows are read in parts, after an eid mark
		return r
	}
	fresh, reused := newTestRunner(false), newTestRunner(true)

	state := func(r *runner) string {
		full, err := r.sensor.FullState()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(full)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	alerts := func(r *runner) []string {
		list, err := r.deps.store.Alerts(context.Background(), store.AlertQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range list {
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		return out
	}
	page := func() {
		sec++
		for n := 0; ; n++ {
			moreFresh, err := fresh.pollPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			moreReused, err := reused.pollPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want, got := state(fresh), state(reused); got != want {
				t.Fatalf("second %d, page %d: state with reused buffers:\n%s\nwith fresh ones:\n%s", sec, n, got, want)
			}
			if moreFresh != moreReused {
				t.Fatalf("second %d, page %d: more %v with reused buffers, %v with fresh ones", sec, n, moreReused, moreFresh)
			}
			if !moreFresh {
				return
			}
		}
	}
	exec := func(pid, parent int, path, cmdline string) map[string]string {
		return map[string]string{"pid": strconv.Itoa(pid), "parent": strconv.Itoa(parent), "path": path,
			"cmdline": cmdline, "cwd": "/tmp", "uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000",
			"auid": "1000", "syscall": "execve"}
	}
	// A reverse shell over three pages (its sequence pending across them),
	// among execs and connects of other processes, some exec'd in one page
	// and seen again in the next.
	steps := []func(){
		func() { mustInject(t, core.InjectProcessEvents, exec(4000, 1, "/usr/bin/bash", "bash")) },
		func() {
			mustInject(t, core.InjectProcessEvents, exec(4001, 4000, "/tmp/x", "/tmp/x"))
			mustInject(t, core.InjectSocketEvents, map[string]string{"action": "connect", "pid": "4001", "path": "/tmp/x",
				"fd": "3", "auid": "1000", "family": "2", "remote_address": "203.0.113.9", "remote_port": "4444"})
		},
		func() { mustInject(t, core.InjectProcessEvents, exec(4001, 4000, "/bin/sh", "/bin/sh -i")) },
	}
	for i := range 8 {
		for j := range 30 {
			pid := 10000 + i*100 + j
			mustInject(t, core.InjectProcessEvents, benchExec(pid))
			mustInject(t, core.InjectSocketEvents, benchConnect(pid-100)) // last page's processes
		}
		if i < len(steps) {
			steps[i]()
		}
		page()
	}
	sec += 5
	page()

	want, got := alerts(fresh), alerts(reused)
	if len(want) == 0 {
		t.Fatal("the scenario raised no alert")
	}
	if len(got) != len(want) {
		t.Fatalf("%d alerts with reused buffers, %d with fresh ones", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alert %d with reused buffers:\n%s\nwith fresh ones:\n%s", i, got[i], want[i])
		}
	}
}
