package extension

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// BenchmarkPollPath is the extension's whole read path as it runs, our
// side only, through the runner's own pollPage: the Thrift request and the
// decoding of osquery's answer (real Thrift bytes over a real unix
// socket), the poller (paging, de-duplication), ordering, normalization,
// the engine with the bundled rules, and the store commit of the page
// (alerts, cursor, counters, pending sequences and the journal of the
// process cache slots the page changed, with fsync). Each op is one second
// of 1,000 events, one page: 500 execs of new processes with unique
// command lines and 500 connects.
//
// osquery's side runs in another process (this test binary started again
// as TestPollPathStandIn): the stand-in core with its SQLite, the events'
// injection, its answer to each query encoded as osqueryd sends it (each
// row's keys sorted, osqueryd's rows being std::maps) and a canned server
// that writes those bytes when asked. Before each op, with the timer
// stopped, the benchmark tells that process which queries the poller will
// make (the poller's own SQL from the cursor and clock) and waits until
// the answers are ready; timed, pollPage asks them over the socket as it
// would ask osqueryd. So none of osquery's work runs in this process: its
// CPU, its allocations and its garbage are not counted, and every
// collection in this process is of our own garbage.
//
// Counted: allocs/op and B/op are this process's allocations while the
// timer runs (/1000 for per row). cpu-ns/row is this process's CPU time
// (user and system, getrusage) while the timer runs, per row: our Thrift
// write and read syscalls and the store's write included; waiting (for
// fsync, for the socket) costs no CPU; sys-ns/row is the system (kernel)
// part of it. all-cpu-ns/row is this process's
// CPU over the whole loop, untimed parts included: that adds the
// benchmark's exchanges with the stand-in process (a few small pipe
// messages per op) and any garbage collection work that ran while the
// process waited, so it bounds what 1,000 events/s cost from above.
// ns/row is wall-clock time while the timer runs, which also holds the
// fsync and the stand-in's writing of its answer.
//
// Not counted: osquery's work (above); the quarantine probe is counted
// when due (every 10 s of the clock by default, two queries with empty
// answers).
//
// Two cases: fresh-cache starts with an empty process cache (it does not
// fill within the few hundred seconds a run reads); full-cache first reads
// 210 seconds untimed, so that the cache (100,000 processes by default) is
// full and every exec of a new process evicts one, as it does after a few
// minutes at this rate.
func BenchmarkPollPath(b *testing.B) {
	b.Run("fresh-cache", func(b *testing.B) { benchmarkPollPath(b, 0) })
	b.Run("full-cache", func(b *testing.B) { benchmarkPollPath(b, 210) })
}

func benchmarkPollPath(b *testing.B, warm int) {
	base := time.Now().Add(-time.Duration(warm+10) * time.Minute)
	sec := 0
	clock := func() time.Time { return base.Add(time.Duration(sec+1) * time.Second) }
	stand := startStandIn(b, base)
	q := &cannedQuerier{b: b, stand: stand, client: NewCoreClient(stand.canned, time.Minute)}
	b.Cleanup(q.client.Close)

	dir := b.TempDir()
	cfg := config.Defaults()
	cfg.StateDir = filepath.Join(dir, "state")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		b.Fatal(err)
	}
	r, err := newRunner(Options{Socket: stand.canned, Config: cfg, Now: clock,
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

	const perIter = 1000
	ctx := context.Background()
	// poll reads one second, the page's queries prepared beforehand when
	// timed (strict).
	poll := func(i int, strict bool, timer *cpuTimer) {
		stand.do(b, "second "+strconv.Itoa(i))
		sec++
		if strict {
			now := clock()
			if r.poller.quarantineDue(now) {
				limit := r.poller.QuarantineLimit(now.Unix())
				for _, src := range sources {
					q.prepare(r.poller.quarantineSQL(src, limit))
				}
			}
			for _, src := range sources {
				q.prepare(r.poller.pollSQL(src, r.state.Cursor, now.Unix()))
			}
		}
		q.strict = strict
		before := r.state.Delivered["process_events"] + r.state.Delivered["socket_events"]
		timer.start()
		more, err := r.pollPage(ctx)
		timer.stop()
		q.strict = false
		if err != nil {
			b.Fatal(err)
		}
		if more || len(q.expect) > 0 {
			b.Fatalf("second %d: more pages (%v) or unasked queries (%q)", i, more, q.expect)
		}
		if got := int(r.state.Delivered["process_events"] + r.state.Delivered["socket_events"] - before); got != perIter {
			b.Fatalf("second %d: %d rows delivered, want %d", i, got, perIter)
		}
	}
	// A first second (or warm), untimed, warms the caches and the
	// connection.
	for i := range max(warm, 1) {
		poll(i, false, &cpuTimer{})
	}
	if warm > 0 && r.sensor.ProcessCacheRoom() > 0 {
		b.Fatalf("the process cache has room for %d more after warming", r.sensor.ProcessCacheRoom())
	}

	timer := &cpuTimer{b: b}
	rows := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := max(warm, 1); b.Loop(); i++ {
		b.StopTimer()
		poll(i, true, timer)
		rows += perIter
		b.StartTimer()
	}
	all := processCPU() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(timer.cpu.Nanoseconds())/float64(rows), "cpu-ns/row")
	b.ReportMetric(float64(timer.sys.Nanoseconds())/float64(rows), "sys-ns/row")
	b.ReportMetric(float64(all.Nanoseconds())/float64(rows), "all-cpu-ns/row")
}

// cannedQuerier asks the canned server of the stand-in process, which
// answers each query with the answer prepared for it.
type cannedQuerier struct {
	b      *testing.B
	stand  *standIn
	client *CoreClient
	// expect lists the queries whose answers the stand-in has ready, in
	// order. When strict (timed), every query must be one of them;
	// otherwise an unexpected query is prepared when asked.
	expect []string
	strict bool
}

// prepare has the stand-in ready its answer to sql.
func (q *cannedQuerier) prepare(sql string) {
	q.stand.do(q.b, "query "+sql)
	q.expect = append(q.expect, sql)
}

func (q *cannedQuerier) next(sql string) {
	if len(q.expect) == 0 && !q.strict {
		q.prepare(sql)
	}
	if len(q.expect) == 0 || q.expect[0] != sql {
		q.b.Fatalf("query not prepared: %s", sql)
	}
	q.expect = q.expect[1:]
}

func (q *cannedQuerier) QueryRows(ctx context.Context, sql string) ([]map[string]string, error) {
	q.next(sql)
	return q.client.QueryRows(ctx, sql)
}

func (q *cannedQuerier) QueryColumns(ctx context.Context, sql string, columns []string, reuse ColumnRows) (ColumnRows, error) {
	q.next(sql)
	return q.client.QueryColumns(ctx, sql, columns, reuse)
}

// The stand-in process: this test binary started with standInEnv set.
const (
	standInEnv     = "OSQDETECT_POLLPATH_STANDIN"      // its directory
	standInBaseEnv = "OSQDETECT_POLLPATH_STANDIN_BASE" // its clock's start, Unix ns
)

// standIn is the stand-in process seen from the benchmark: commands go to
// its standard input, one a line, and each is answered on its standard
// output by a line starting "ok".
type standIn struct {
	in     io.Writer
	out    *bufio.Reader
	canned string // the canned server's socket
}

func startStandIn(b *testing.B, base time.Time) *standIn {
	dir, err := os.MkdirTemp("", "osqpp")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPollPathStandIn$", "-test.count", "1")
	cmd.Env = append(os.Environ(), standInEnv+"="+dir, standInBaseEnv+"="+strconv.FormatInt(base.UnixNano(), 10))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close() // the stand-in ends at the end of its input
		_ = cmd.Wait()
	})
	s := &standIn{in: in, out: bufio.NewReader(out), canned: filepath.Join(dir, "canned.em")}
	s.expectOK(b) // ready
	return s
}

func (s *standIn) do(b *testing.B, line string) {
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		b.Fatal(err)
	}
	s.expectOK(b)
}

func (s *standIn) expectOK(b *testing.B) {
	line, err := s.out.ReadString('\n')
	if strings.HasPrefix(line, "ok") {
		return
	}
	rest, _ := io.ReadAll(s.out)
	b.Fatalf("stand-in process: %q %v\n%s", line, err, rest)
}

// TestPollPathStandIn is not a test: it is osquery's side of
// BenchmarkPollPath, in a process of its own, and skips unless started by
// it. Commands: "second I" injects the I-th second of events (500 execs,
// 500 connects) and moves the clock on a second; "query SQL" runs SQL on
// the stand-in core and readies its answer, encoded as osqueryd sends it,
// for the canned server's next request.
func TestPollPathStandIn(t *testing.T) {
	dir := os.Getenv(standInEnv)
	if dir == "" {
		t.Skip("osquery's side of BenchmarkPollPath, run by it")
	}
	ns, err := strconv.ParseInt(os.Getenv(standInBaseEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, ns)
	var sec atomic.Int64
	core := startTestCore(t, osqcore.Options{})
	core.SetClock(func() time.Time { return base.Add(time.Duration(sec.Load()) * time.Second) })
	stand := NewCoreClient(core.Socket(), time.Minute)
	defer stand.Close()
	canned := startCannedCore(t, filepath.Join(dir, "canned.em"))

	out := bufio.NewWriter(os.Stdout)
	reply := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	reply("ok ready")
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20)
	ctx := context.Background()
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "second":
			const perIter = 1000
			i, err := strconv.Atoi(arg)
			if err != nil {
				reply("error %v", err)
				continue
			}
			procs, socks := benchSecond(i, perIter)
			if _, err := core.InjectProcessEvents(procs...); err != nil {
				reply("error %v", err)
				continue
			}
			if _, err := core.InjectSocketEvents(socks...); err != nil {
				reply("error %v", err)
				continue
			}
			sec.Add(1)
			reply("ok")
		case "query":
			rows, err := stand.QueryRows(ctx, arg)
			if err != nil {
				reply("error %v", err)
				continue
			}
			canned.replies <- encodeSortedQueryResult(t, &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Message: "OK"}, Response: rows})
			reply("ok %d rows", len(rows))
		default:
			reply("error unknown command %q", cmd)
		}
	}
}

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
	c := &cannedCore{ln: ln, replies: make(chan []byte, 16)}
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

// cpuTimer runs the benchmark's timer (when it has one) and also sums the
// process's CPU time (user and system) while it runs: waiting (for the
// disk's fsync of a commit, for the socket) costs wall-clock time but no
// CPU.
type cpuTimer struct {
	b           *testing.B
	cpu, sys    time.Duration
	since, sys0 time.Duration
}

func processCPU() time.Duration {
	user, sys := processUserSys()
	return user + sys
}

// processUserSys is the process's user and system CPU time.
func processUserSys() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func (t *cpuTimer) start() {
	if t.b != nil {
		t.b.StartTimer()
	}
	user, sys := processUserSys()
	t.since, t.sys0 = user+sys, sys
}

func (t *cpuTimer) stop() {
	user, sys := processUserSys()
	t.cpu += user + sys - t.since
	t.sys += sys - t.sys0
	if t.b != nil {
		t.b.StopTimer()
	}
}
