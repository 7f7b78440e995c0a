// Package benchlog writes synthetic osquery results logs for benchmarks:
// the filesystem logger's event format, one JSON object per line, with the
// columns osquery's audit-based process_events and socket_events have and
// the decorations a typical pack adds. About 90% of rows are exec rows and
// 10% connect rows; every AttackEvery rows a host runs the two bundled
// detections' attacks (a reverse shell through a binary in /tmp, and a
// symlink of a system binary into /tmp).
package benchlog

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"strconv"
)

// Options shape a log.
type Options struct {
	Rows          int   // rows to write
	Hosts         int   // hosts whose rows interleave (default 20)
	RowsPerSecond int   // rows per second of osquery time, all hosts together (default 1000)
	Pids          int   // pids per host (default 2000)
	AttackEvery   int   // rows between attacks; 0: none
	Unique        bool  // every benign command line different (a job number)
	Start         int64 // first second (default 1763800000)
	Seed          int64
}

var programs = []struct{ path, cmd string }{
	{"/usr/bin/ls", "ls -la /var/log"}, {"/usr/bin/grep", "grep -r error /var/log/syslog"},
	{"/usr/bin/cat", "cat /etc/os-release"}, {"/usr/bin/python3", "python3 /opt/app/worker.py --queue default"},
	{"/usr/bin/git", "git fetch origin"}, {"/usr/sbin/sshd", "sshd: admin [priv]"},
	{"/usr/bin/bash", "bash -c /usr/local/bin/backup.sh"}, {"/usr/bin/ln", "ln -s /etc/nginx/sites-available/a /etc/nginx/sites-enabled/a"},
	{"/usr/bin/curl", "curl -s https://example.org/health"}, {"/usr/bin/dash", "/bin/sh -c run-parts /etc/cron.hourly"},
}

type host struct {
	uuid, name string
	eid        [2]int
}

// Write writes the log and returns how many attacks of each kind it holds
// (each is one reverse shell and one symlink).
func Write(w io.Writer, o Options) (attacks int, err error) {
	if o.Hosts <= 0 {
		o.Hosts = 20
	}
	if o.RowsPerSecond <= 0 {
		o.RowsPerSecond = 1000
	}
	if o.Pids <= 0 {
		o.Pids = 2000
	}
	if o.Start == 0 {
		o.Start = 1763800000
	}
	rng := rand.New(rand.NewSource(o.Seed + 1))
	hosts := make([]host, o.Hosts)
	for i := range hosts {
		hosts[i] = host{uuid: fmt.Sprintf("4c4c4544-0044-4810-8036-%012x", 0xc7c04f590000+i), name: fmt.Sprintf("host-%02d", i)}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	n := 0
	t := o.Start
	next := func() *host {
		t = o.Start + int64(n/o.RowsPerSecond)
		n++
		return &hosts[rng.Intn(len(hosts))]
	}
	header := func(h *host, table string, tbl int) {
		h.eid[tbl]++
		line = append(line[:0], `{"name":"pack/osqdetect/`...)
		line = append(line, table...)
		line = append(line, `","hostIdentifier":"`...)
		line = append(line, h.name...)
		line = append(line, `","calendarTime":"Sat Nov 22 08:27:40 2025 UTC","unixTime":`...)
		line = strconv.AppendInt(line, t+1, 10)
		line = append(line, `,"epoch":0,"counter":0,"numerics":false,"decorations":{"host_uuid":"`...)
		line = append(line, h.uuid...)
		line = append(line, `","hostname":"`...)
		line = append(line, h.name...)
		line = append(line, `"},"columns":{`...)
	}
	str := func(k, v string, more bool) {
		line = append(line, '"')
		line = append(line, k...)
		line = append(line, `":`...)
		line = strconv.AppendQuote(line, v)
		if more {
			line = append(line, ',')
		}
	}
	num := func(k string, v int64) {
		line = append(line, '"')
		line = append(line, k...)
		line = append(line, `":"`...)
		line = strconv.AppendInt(line, v, 10)
		line = append(line, `",`...)
	}
	end := func(h *host, tbl int) error {
		num("time", t)
		line = append(line, `"eid":"`...)
		line = append(line, fmt.Sprintf("%010d", h.eid[tbl])...)
		line = append(line, `","uptime":"86401"},"action":"added"}`+"\n"...)
		_, err := bw.Write(line)
		return err
	}
	exec := func(h *host, pid, ppid int, path, cmd string) error {
		header(h, "process_events", 0)
		num("pid", int64(pid))
		num("parent", int64(ppid))
		str("path", path, true)
		str("cmdline", cmd, true)
		str("cwd", "/home/admin", true)
		for _, k := range []string{"auid", "uid", "euid", "gid", "egid", "fsuid", "suid", "fsgid", "sgid"} {
			num(k, 1000)
		}
		str("mode", "0100755", true)
		for _, k := range []string{"owner_uid", "owner_gid", "atime", "mtime", "ctime", "btime"} {
			num(k, 0)
		}
		str("syscall", "execve", true)
		return end(h, 0)
	}
	sock := func(h *host, pid int, path, ip string) error {
		header(h, "socket_events", 1)
		str("action", "connect", true)
		num("pid", int64(pid))
		str("path", path, true)
		num("fd", 3)
		num("auid", 1000)
		num("family", 2)
		str("local_address", "", true)
		str("remote_address", ip, true)
		num("local_port", 0)
		num("remote_port", 443)
		str("status", "succeeded", true)
		num("success", 1)
		return end(h, 1)
	}
	for n < o.Rows {
		h := next()
		if o.AttackEvery > 0 && n%o.AttackEvery == 0 && o.Rows-n >= 5 {
			pid := 900000 + n%50000
			attacks++
			steps := []func() error{
				func() error { return exec(h, 1, 0, "/usr/bin/bash", "-bash") },
				func() error { return exec(h, pid, 1, "/tmp/.x", "/tmp/.x") },
				func() error { return sock(h, pid, "/tmp/.x", "203.0.113.7") },
				func() error { return exec(h, pid, 1, "/bin/sh", "sh -i") },
				func() error { return exec(h, pid+1, 1, "/usr/bin/ln", "ln -s /bin/bash /tmp/.b"+strconv.Itoa(attacks)) },
			}
			for i, step := range steps {
				if i > 0 {
					n++ // the attack's rows share the host and the second
				}
				if err := step(); err != nil {
					return attacks, err
				}
			}
			continue
		}
		pid := 1000 + rng.Intn(o.Pids)
		if rng.Intn(10) == 0 {
			if err := sock(h, pid, "/usr/bin/curl", "198.51.100."+strconv.Itoa(rng.Intn(250))); err != nil {
				return attacks, err
			}
			continue
		}
		p := programs[rng.Intn(len(programs))]
		cmd := p.cmd
		if o.Unique {
			cmd += " --job=" + strconv.Itoa(n)
		}
		if err := exec(h, pid, 1000+rng.Intn(o.Pids), p.path, cmd); err != nil {
			return attacks, err
		}
	}
	return attacks, bw.Flush()
}
