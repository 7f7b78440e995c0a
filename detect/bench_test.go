package detect_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/rules"
)

// syntheticStream builds a realistic stream of osquery rows: many pids,
// about 90% exec rows and 10% socket rows, with a reverse shell and a
// symlink attack mixed in every attackEvery rows. Rows are returned in
// order, ten per second. With uniqueCommands, every benign command line
// ends in an argument no other row has (a job number), as when hosts run
// commands with ids, temporary names or timestamps in them.
func syntheticStream(n, pids, attackEvery int, uniqueCommands bool) []normalize.Row {
	rng := rand.New(rand.NewSource(1))
	programs := []struct{ path, cmd string }{
		{"/usr/bin/ls", "ls -la /var/log"}, {"/usr/bin/grep", "grep -r error /var/log/syslog"},
		{"/usr/bin/cat", "cat /etc/os-release"}, {"/usr/bin/python3", "python3 /opt/app/worker.py --queue default"},
		{"/usr/bin/git", "git fetch origin"}, {"/usr/sbin/sshd", "sshd: admin [priv]"},
		{"/usr/bin/bash", "bash -c /usr/local/bin/backup.sh"}, {"/usr/bin/ln", "ln -s /etc/nginx/sites-available/a /etc/nginx/sites-enabled/a"},
		{"/usr/bin/curl", "curl -s https://example.org/health"}, {"/usr/bin/dash", "/bin/sh -c run-parts /etc/cron.hourly"},
	}
	rows := make([]normalize.Row, 0, n)
	eid := map[string]int{}
	add := func(table string, t int64, cols map[string]string) {
		eid[table]++
		cols["time"] = strconv.FormatInt(t, 10)
		cols["eid"] = fmt.Sprintf("%010d", eid[table])
		rows = append(rows, normalize.Row{Table: table, Host: "bench-host", Cols: cols, Seq: uint64(len(rows) + 1)})
	}
	exec := func(t int64, pid, ppid int, path, cmd string) {
		add("process_events", t, map[string]string{
			"pid": strconv.Itoa(pid), "parent": strconv.Itoa(ppid), "path": path, "cmdline": cmd, "cwd": "/home/u",
			"uid": "1000", "euid": "1000", "gid": "1000", "egid": "1000", "auid": "1000", "syscall": "execve",
		})
	}
	sock := func(t int64, pid int, path, ip string) {
		add("socket_events", t, map[string]string{
			"pid": strconv.Itoa(pid), "path": path, "action": "connect", "family": "2", "remote_address": ip,
			"remote_port": "443", "local_address": "", "local_port": "0", "status": "succeeded", "auid": "1000", "fd": "3",
		})
	}
	t := int64(1763800000)
	for len(rows) < n {
		if len(rows)%10 == 0 {
			t++
		}
		if attackEvery > 0 && len(rows)%attackEvery == 0 {
			pid := 900000 + len(rows)%50000
			exec(t, 1, 0, "/usr/bin/bash", "-bash")
			exec(t, pid, 1, "/tmp/.x", "/tmp/.x")
			sock(t, pid, "/tmp/.x", "203.0.113.7")
			exec(t, pid, 1, "/bin/sh", "sh -i")
			exec(t, pid+1, 1, "/usr/bin/ln", "ln -s /bin/bash /tmp/.b")
			continue
		}
		pid := 1000 + rng.Intn(pids)
		if rng.Intn(10) == 0 {
			sock(t, pid, "/usr/bin/curl", "198.51.100."+strconv.Itoa(rng.Intn(250)))
			continue
		}
		p := programs[rng.Intn(len(programs))]
		cmd := p.cmd
		if uniqueCommands {
			cmd += " --job=" + strconv.Itoa(len(rows))
		}
		exec(t, pid, 1000+rng.Intn(pids), p.path, cmd)
	}
	return rows
}

var (
	benchRows       = sync.OnceValue(func() []normalize.Row { return syntheticStream(100_000, 20_000, 1000, false) })
	benchUniqueRows = sync.OnceValue(func() []normalize.Row { return syntheticStream(100_000, 20_000, 1000, true) })
)

func benchmarkSensor(b *testing.B, ruleSet []*detect.Rule, rows []normalize.Row) {
	s := detect.NewSensor(ruleSet, detect.SensorOptions{Engine: detect.Options{DisableRateLimit: true}})
	alerts := 0
	emit := func(*detect.Alert) { alerts++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Process(rows[i%len(rows)], emit); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if b.N > len(rows) && alerts == 0 {
		b.Fatal("the attacks in the stream raised no alert")
	}
}

// BenchmarkSensorSeedRules: osquery rows to alerts with the two bundled rules.
func BenchmarkSensorSeedRules(b *testing.B) {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkSensor(b, set.Rules, benchRows())
}

// BenchmarkSensorCorpusRules: the same stream with every corpus rule that loads.
func BenchmarkSensorCorpusRules(b *testing.B) {
	benchmarkSensor(b, corpusRules(b), benchRows())
}

// BenchmarkSensorCorpusRulesUniqueCommands: every corpus rule, on a
// stream whose benign command lines are all different.
func BenchmarkSensorCorpusRulesUniqueCommands(b *testing.B) {
	benchmarkSensor(b, corpusRules(b), benchUniqueRows())
}

func corpusRules(b *testing.B) []*detect.Rule {
	dir := filepath.Join(testutil.SharedDir(), "elastic-rules", "rules")
	if _, err := os.Stat(dir); err != nil {
		b.Skip("elastic rule corpus not found:", err)
	}
	set, err := rules.Load([]string{dir}, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d rules loaded", len(set.Rules))
	return set.Rules
}

// freshRows returns a copy of rows whose every string is its own
// allocation, as osquery's Thrift answer delivers them: a cache that keeps a
// row's strings keeps them alone, and the heap counts them.
func freshRows(rows []normalize.Row) []normalize.Row {
	out := make([]normalize.Row, len(rows))
	for i, r := range rows {
		cols := make(map[string]string, len(r.Cols))
		for k, v := range r.Cols {
			cols[strings.Clone(k)] = strings.Clone(v)
		}
		out[i] = normalize.Row{Table: r.Table, Host: strings.Clone(r.Host), Cols: cols, Seq: r.Seq}
	}
	return out
}

// processCacheStream is 100,000 execs, one per pid (so the cache holds the
// full 100,000), then 200,000 rows over the same pids.
func processCacheStream(uniqueCommands bool) []normalize.Row {
	const pids = 100_000
	rows := syntheticStream(pids+200_000, pids, 0, uniqueCommands)
	for i := 0; i < pids; i++ {
		r := &rows[i]
		if r.Table != "process_events" {
			continue
		}
		r.Cols["pid"] = strconv.Itoa(1000 + i)
	}
	// Rows of pids the first part left to socket rows: exec them too.
	for i := 0; i < pids; i++ {
		if rows[i].Table == "socket_events" {
			rows[i].Cols["pid"] = strconv.Itoa(1000 + i)
		}
	}
	return rows
}

// BenchmarkProcessCache100k keeps 100,000 live processes in the cache and
// reports the heap they take, measured honestly: the baseline is taken
// before the rows exist, every row string is its own allocation (as
// Thrift delivers them), the rows are dropped before the heap is measured,
// and the cache holds exactly 100,000 entries.
func BenchmarkProcessCache100k(b *testing.B) {
	benchmarkProcessCache(b, false)
}

// BenchmarkProcessCache100kUniqueCommands: the same with every command
// line different.
func BenchmarkProcessCache100kUniqueCommands(b *testing.B) {
	benchmarkProcessCache(b, true)
}

func benchmarkProcessCache(b *testing.B, uniqueCommands bool) {
	set, err := rules.Load(nil, rules.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	template := processCacheStream(uniqueCommands)
	b.ReportAllocs()
	b.ResetTimer()
	var heap uint64
	var size int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		rows := freshRows(template)
		s := detect.NewSensor(set.Rules, detect.SensorOptions{MaxProcesses: 100_000})
		for _, r := range rows {
			_ = s.Process(r, func(*detect.Alert) {})
		}
		rows = nil
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		size = s.Stats().Normalize.CacheSize
		if size != 100_000 {
			b.Fatalf("process cache holds %d entries, want 100,000", size)
		}
		runtime.KeepAlive(s)
		runtime.KeepAlive(rows)
	}
	b.ReportMetric(float64(heap)/(1<<20), "MiB-heap")
	b.ReportMetric(float64(heap)/float64(size), "B/process")
}
