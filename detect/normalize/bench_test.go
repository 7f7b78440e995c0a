package normalize

import (
	"strconv"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// execPool builds n process_events exec rows, the full column set osquery's
// audit subscriber emits, spread over n pids whose parents are 64 shells.
func execPool(n int) []Row {
	images := []string{"/usr/bin/ls", "/usr/bin/grep", "/usr/bin/curl", "/tmp/x", "/usr/bin/python3"}
	cmds := []string{"ls -la /var/log", "grep -r needle /etc", "curl -s https://example.com/install.sh -o /tmp/i.sh", "/tmp/x 10.0.0.5 4444", "python3 -c import os; os.system('id')"}
	rows := make([]Row, n)
	for i := range rows {
		pid := strconv.Itoa(20000 + i)
		k := i % len(images)
		rows[i] = Row{Table: TableProcessEvents, Host: "6f1e3a52-2a4b-4c7e-9d55-0e4a1c2b3d4e", Seq: uint64(i), Cols: map[string]string{
			"atime": "1700000000", "auid": "1000", "btime": "0", "cmdline": cmds[k], "cmdline_size": strconv.Itoa(len(cmds[k])),
			"ctime": "1700000000", "cwd": "/home/user", "egid": "1000", "eid": "000000" + strconv.Itoa(1000+i%9000),
			"env": "", "env_count": "0", "env_size": "0", "euid": "1000", "fsgid": "1000", "fsuid": "1000", "gid": "1000",
			"mode": "0100755", "mtime": "1700000000", "overflows": "", "owner_gid": "0", "owner_uid": "0",
			"parent": strconv.Itoa(10000 + i%64), "path": images[k], "pid": pid, "sgid": "1000", "suid": "1000",
			"syscall": "execve", "time": strconv.Itoa(1700000000 + i/1000), "uid": "1000", "uptime": "12345",
		}}
	}
	return rows
}

func socketPool(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{Table: TableSocketEvents, Host: "6f1e3a52-2a4b-4c7e-9d55-0e4a1c2b3d4e", Seq: uint64(i), Cols: map[string]string{
			"action": "connect", "auid": "1000", "eid": "000000" + strconv.Itoa(1000+i%9000), "family": "2", "fd": "3",
			"local_address": "0", "local_port": "0", "path": "/tmp/x", "pid": strconv.Itoa(20000 + i),
			"protocol": "0", "remote_address": "10.0.0." + strconv.Itoa(i%250+1), "remote_port": "4444", "socket": "",
			"status": "succeeded", "success": "1", "time": strconv.Itoa(1700000000 + i/1000), "uptime": "12345",
		}}
	}
	return rows
}

func seedShells(n *Normalizer) {
	var procs []map[string]string
	for i := 0; i < 64; i++ {
		procs = append(procs, map[string]string{
			"pid": strconv.Itoa(10000 + i), "parent": "1", "name": "bash", "path": "/usr/bin/bash",
			"cmdline": "-bash", "cwd": "/home/user", "uid": "1000", "gid": "1000", "euid": "1000", "egid": "1000",
			"start_time": "1699990000",
		})
	}
	n.Seed("6f1e3a52-2a4b-4c7e-9d55-0e4a1c2b3d4e", procs)
}

// benchRows cycles a few row maps (a row fresh from osquery-go is hot in
// the CPU cache) over a large pool of pids (the process cache is not): each
// iteration points the row at the next pid and its parent, which costs two
// map stores. Pid k always has parent shell k%64.
type benchRows struct {
	rows    []Row
	pids    []string
	parents []string
}

func newBenchRows(rows []Row, pids int) *benchRows {
	br := &benchRows{rows: rows[:128]}
	for i := 0; i < pids; i++ {
		br.pids = append(br.pids, strconv.Itoa(20000+i))
		br.parents = append(br.parents, strconv.Itoa(10000+i%64))
	}
	return br
}

func (br *benchRows) row(i int) Row {
	r := br.rows[i%len(br.rows)]
	k := i % len(br.pids)
	r.Cols["pid"] = br.pids[k]
	if _, ok := r.Cols["parent"]; ok {
		r.Cols["parent"] = br.parents[k]
	}
	return r
}

func BenchmarkNormalizeExec(b *testing.B) {
	br := newBenchRows(execPool(128), 10000)
	n := New(Options{})
	seedShells(n)
	var ev ecs.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Reset()
		if err := n.Normalize(br.row(i), &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeSocket(b *testing.B) {
	n := New(Options{})
	seedShells(n)
	var ev ecs.Event
	for _, r := range execPool(10000) {
		ev.Reset()
		if err := n.Normalize(r, &ev); err != nil {
			b.Fatal(err)
		}
	}
	br := newBenchRows(socketPool(128), 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Reset()
		if err := n.Normalize(br.row(i), &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeExecNewProcesses execs pids the cache has never seen,
// each evicting another: the cost of a process's first event.
func BenchmarkNormalizeExecNewProcesses(b *testing.B) {
	br := newBenchRows(execPool(128), 10000)
	n := New(Options{MaxProcesses: 1000})
	seedShells(n)
	var ev ecs.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Reset()
		if err := n.Normalize(br.row(i), &ev); err != nil {
			b.Fatal(err)
		}
	}
}
