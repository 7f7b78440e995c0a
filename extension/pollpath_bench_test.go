package extension

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// cannedCore answers each query on a unix socket with the next reply body
// it is handed, already encoded: serving costs one write of those bytes.
type cannedCore struct {
	ln      net.Listener
	replies chan []byte
}

func startCannedCore(tb testing.TB, path string) *cannedCore {
	tb.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	c := &cannedCore{ln: ln, replies: make(chan []byte, 1)}
	tb.Cleanup(func() { ln.Close() })
	go c.serve()
	return c
}

func (c *cannedCore) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			trans := thrift.NewTBufferedTransport(thrift.NewStreamTransportRW(conn), 64<<10)
			proto := thrift.NewTBinaryProtocolConf(trans, nil)
			ctx := context.Background()
			for {
				name, _, seq, err := proto.ReadMessageBegin(ctx)
				if err != nil {
					return
				}
				if err := proto.Skip(ctx, thrift.STRUCT); err != nil {
					return
				}
				_ = proto.ReadMessageEnd(ctx)
				body := <-c.replies
				_ = proto.WriteMessageBegin(ctx, name, thrift.REPLY, seq)
				_, _ = trans.Write(body)
				_ = proto.WriteMessageEnd(ctx)
				if err := proto.Flush(ctx); err != nil {
					return
				}
			}
		}()
	}
}

// cannedQuerier asks the osquery stand-in each query with the benchmark's
// timer stopped, encodes its answer as osqueryd would, and then, timed,
// receives and decodes that answer over a socket from the canned core:
// the stand-in's own cost (SQLite, its Thrift encoding) is left out, our
// side (the request, the read, the decoding) is measured.
type cannedQuerier struct {
	b      *testing.B
	timer  *cpuTimer
	stand  *CoreClient
	canned *cannedCore
	client *CoreClient
}

func (q *cannedQuerier) QueryRows(ctx context.Context, sql string) ([]map[string]string, error) {
	return q.stand.QueryRows(ctx, sql)
}

func (q *cannedQuerier) QueryColumns(ctx context.Context, sql string, columns []string) (ColumnRows, error) {
	q.timer.stop()
	rows, err := q.stand.QueryRows(ctx, sql)
	if err != nil {
		q.b.Fatal(err)
	}
	q.canned.replies <- encodeSortedQueryResult(q.b, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Message: "OK"}, Response: rows})
	q.timer.start()
	return q.client.QueryColumns(ctx, sql, columns)
}

// BenchmarkPollPath is the extension's whole read path as it runs, our
// side only: the Thrift request and the decoding of osquery's answer, the
// poller, de-duplication, ordering, normalization, the engine with the
// bundled rules and the store commit of every page (alerts, cursor,
// pending sequences), through the runner's own pollPage. Each op is one
// second of 1,000 events (500 execs of new processes with unique command
// lines, 500 connects); allocs/op / 1000 is allocations per row.
//
// Every commit carries the journal of the process cache slots the page
// changed (BenchmarkCommitPerPoll measures that part alone).
func BenchmarkPollPath(b *testing.B) {
	benchmarkPollPath(b)
}

func benchmarkPollPath(b *testing.B) {
	core := startTestCore(b, osqcore.Options{})
	base := time.Now().Add(-10 * time.Minute)
	sec := 0
	core.SetClock(func() time.Time { return base.Add(time.Duration(sec) * time.Second) })
	clock := func() time.Time { return base.Add(time.Duration(sec+1) * time.Second) }

	dir := b.TempDir()
	canned := startCannedCore(b, filepath.Join(dir, "canned.em"))
	timer := &cpuTimer{b: b}
	q := &cannedQuerier{b: b, timer: timer, stand: NewCoreClient(core.Socket(), time.Minute), canned: canned,
		client: NewCoreClient(filepath.Join(dir, "canned.em"), time.Minute)}
	b.Cleanup(q.stand.Close)
	b.Cleanup(q.client.Close)

	cfg := config.Defaults()
	cfg.StateDir = filepath.Join(dir, "state")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		b.Fatal(err)
	}
	r, err := newRunner(Options{Socket: core.Socket(), Config: cfg, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	deps, err := openWiring(context.Background(), r.opts, r.health, r.log)
	if err != nil {
		b.Fatal(err)
	}
	r.deps = deps
	b.Cleanup(r.close)
	r.host = "bench-host"
	r.sensor = detect.NewSensor(deps.rules.Rules, deps.sensorOptions())
	sources := []Source{ProcessEventsSource, SocketEventsSource}
	r.setup = EventsSetup{Sources: sources, ExpirySeconds: 3600}
	r.poller = NewPoller(q, sources)
	r.poller.Now = clock
	r.poller.QuarantineEvery = time.Hour

	const perIter = 1000
	rows := 0
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		procs := make([]map[string]string, 0, perIter/2)
		socks := make([]map[string]string, 0, perIter/2)
		for j := 0; j < perIter/2; j++ {
			pid := 10000 + i*perIter + j
			procs = append(procs, benchExec(pid))
			socks = append(socks, benchConnect(pid))
		}
		if _, err := core.InjectProcessEvents(procs...); err != nil {
			b.Fatal(err)
		}
		if _, err := core.InjectSocketEvents(socks...); err != nil {
			b.Fatal(err)
		}
		sec++
		before := r.state.Delivered["process_events"] + r.state.Delivered["socket_events"]
		timer.start()
		for {
			more, err := r.pollPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				break
			}
		}
		timer.stop()
		got := int(r.state.Delivered["process_events"] + r.state.Delivered["socket_events"] - before)
		if got != perIter {
			b.Fatalf("second %d: %d rows delivered, want %d", sec, got, perIter)
		}
		rows += got
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(timer.cpu.Nanoseconds())/float64(rows), "cpu-ns/row")
}

// cpuTimer runs the benchmark's timer and also sums the process's CPU time
// (user and system) while it runs: waiting (for the disk's fsync of a
// commit, for the socket) costs wall-clock time but no CPU.
type cpuTimer struct {
	b     *testing.B
	cpu   time.Duration
	since time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (t *cpuTimer) start() {
	t.b.StartTimer()
	t.since = processCPU()
}

func (t *cpuTimer) stop() {
	t.cpu += processCPU() - t.since
	t.b.StopTimer()
}
