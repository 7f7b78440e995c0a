package extension

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/rules"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// benchPipeline is the runner's read path without the server: the core
// client over Thrift, the poller and the sensor with the bundled rules.
type benchPipeline struct {
	poller *Poller
	sensor *detect.Sensor
	cursor Cursor
	rows   int
	alerts int
}

func newBenchPipeline(b *testing.B, core *osqcore.Core, now func() time.Time) *benchPipeline {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	client := NewCoreClient(core.Socket(), time.Minute)
	b.Cleanup(client.Close)
	p := NewPoller(client, []Source{ProcessEventsSource, SocketEventsSource})
	p.Now = now
	return &benchPipeline{poller: p, sensor: detect.NewSensor(set.Rules, detect.SensorOptions{})}
}

// drain polls until nothing complete is left.
func (bp *benchPipeline) drain(b *testing.B) {
	for {
		page, err := bp.poller.Poll(context.Background(), bp.cursor)
		if err != nil {
			b.Fatal(err)
		}
		rows := make([]normalize.Row, len(page.Rows))
		for i, r := range page.Rows {
			rows[i] = normalize.Row{Table: r.Table, Host: "bench-host", Fields: r.Fields, Seq: uint64(bp.rows + i)}
		}
		bp.sensor.Ingest(rows, func(*detect.Alert) { bp.alerts++ })
		bp.rows += len(rows)
		bp.cursor = page.Next
		if !page.More {
			return
		}
	}
}

func benchExec(pid int) map[string]string {
	p := strconv.Itoa(pid)
	return map[string]string{"pid": p, "parent": "1", "path": "/usr/bin/curl", "cmdline": "curl -s https://example.com/" + p,
		"cwd": "/root", "uid": "0", "euid": "0", "gid": "0", "egid": "0", "auid": "0", "syscall": "execve"}
}

func benchConnect(pid int) map[string]string {
	return map[string]string{"action": "connect", "pid": strconv.Itoa(pid), "path": "/usr/bin/curl", "fd": "3",
		"auid": "0", "family": "2", "remote_address": "93.184.215.14", "remote_port": "443"}
}

// BenchmarkPollThroughThrift measures rows per second from osquery's event
// tables, through Thrift, the poller and the engine.
func BenchmarkPollThroughThrift(b *testing.B) {
	core := startTestCore(b, osqcore.Options{})
	// Events are stamped 10 minutes in the past, so every second is complete.
	base := time.Now().Add(-10 * time.Minute)
	sec := 0
	core.SetClock(func() time.Time { return base.Add(time.Duration(sec) * time.Second) })
	// The poller reads the same clock: when it polls, the clock is two
	// seconds past the injected batch, which is then complete.
	bp := newBenchPipeline(b, core, func() time.Time { return base.Add(time.Duration(sec+1) * time.Second) })
	const perIter = 1000
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		procs, socks := benchSecond(i, perIter)
		if _, err := core.InjectProcessEvents(procs...); err != nil {
			b.Fatal(err)
		}
		if _, err := core.InjectSocketEvents(socks...); err != nil {
			b.Fatal(err)
		}
		sec++
		b.StartTimer()
		bp.drain(b)
	}
	b.ReportMetric(float64(bp.rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSustainedFlood injects 10,000 events per simulated second for a
// simulated minute, polling after each second, and reports the live heap
// after the first ten seconds and at the end: a bounded pipeline holds it
// flat. The in-process osquery stand-in keeps events for events_expiry (5 s
// here) and its process table loses each second's processes as they exit,
// so its share of the heap is bounded too.
func BenchmarkSustainedFlood(b *testing.B) {
	const perSecond, seconds, warmup = 10000, 60, 10
	b.ReportAllocs()
	for b.Loop() {
		core := startTestCore(b, osqcore.Options{Flags: map[string]string{"events_expiry": "5"}})
		base := time.Now().Add(-2 * time.Hour)
		sec := 0
		clock := func() time.Time { return base.Add(time.Duration(sec) * time.Second) }
		core.SetClock(clock)
		// The extension reads the same (simulated) clock osquery stamps with.
		bp := newBenchPipeline(b, core, clock)
		var peak, warm uint64
		pid := 100000
		for sec = 0; sec < seconds; {
			procs := make([]map[string]string, 0, perSecond/2)
			socks := make([]map[string]string, 0, perSecond/2)
			for j := 0; j < perSecond/2; j++ {
				pid++
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
			bp.drain(b)
			for _, p := range procs { // the flood's short-lived processes exit
				n, _ := strconv.ParseInt(p["pid"], 10, 64)
				core.RemoveProcess(n)
			}
			heap := liveHeap()
			peak = max(peak, heap)
			if sec == warmup {
				warm = heap
			}
		}
		sec += 10
		bp.drain(b)
		if bp.rows != perSecond*seconds {
			b.Fatalf("engine got %d rows, want %d", bp.rows, perSecond*seconds)
		}
		b.ReportMetric(float64(warm)/(1<<20), "heap-at-10s-MiB")
		b.ReportMetric(float64(liveHeap())/(1<<20), "heap-at-end-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(bp.rows), "rows")
	}
}

// liveHeap collects garbage and returns the bytes still in use.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchSecond is second i of the poll benchmarks: perIter/2 execs of new
// processes, each with a connect.
func benchSecond(i, perIter int) (procs, socks []map[string]string) {
	procs = make([]map[string]string, 0, perIter/2)
	socks = make([]map[string]string, 0, perIter/2)
	for j := 0; j < perIter/2; j++ {
		pid := 10000 + i*perIter + j
		procs = append(procs, benchExec(pid))
		socks = append(socks, benchConnect(pid))
	}
	return procs, socks
}
