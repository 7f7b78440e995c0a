package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// soakFlood is how long TestFloodMemory floods and over how many live
// processes: $OSQDETECT_SOAK (a Go duration; `make soak` sets minutes)
// over 100,000, else a short run for `make test` over 20,000 (seeding
// 100,000 processes alone takes the stand-in seconds under -race).
func soakFlood(t *testing.T) (time.Duration, int) {
	if s := os.Getenv("OSQDETECT_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("OSQDETECT_SOAK=%q: %v", s, err)
		}
		return d, 100_000
	}
	return 5 * time.Second, 20_000
}

// rssMiB reads a process's resident set size, all of it and the part
// that maps files (the state store's memory map).
func rssMiB(pid int) (rss, file float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	kib := func(key string) (float64, bool) {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, key+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				return kb / 1024, err == nil
			}
		}
		return 0, false
	}
	rss, ok := kib("VmRSS")
	if !ok {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	file, _ = kib("RssFile")
	return rss, file, nil
}

// The real extension under a flood of 10,000 events a second (5,000 execs
// and 5,000 connects) over 100,000 live processes (20,000 in the short
// run): its resident memory
// stays at or under 128 MiB once steady, every event is read, and when the
// flood stops the memory is handed back. The curve is printed (t.Log).
func TestFloodMemory(t *testing.T) {
	const (
		perSecond = 10_000
		tick      = 100 * time.Millisecond
		limitMiB  = 128
	)
	flood, livePids := soakFlood(t)
	h := newHost(t)
	// Events expire after a minute: the stand-in's buffer stays bounded.
	core := h.startCore(osqcore.Options{Flags: map[string]string{"events_expiry": "60"}})
	for i := range livePids {
		pid := strconv.Itoa(200_000 + i)
		if err := core.SetProcess(map[string]string{"pid": pid, "parent": "1", "path": "/usr/bin/sleep",
			"cmdline": "sleep infinity " + pid, "cwd": "/", "uid": "1000", "gid": "1000", "euid": "1000",
			"egid": "1000", "start_time": "1700000000"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(h.config, []byte("poll_interval = \"1s\"\nlog_level = \"info\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ext := h.launch()
	h.waitRegistered()
	pid := ext.cmd.Process.Pid

	type sample struct {
		at        time.Duration
		rss, file float64
		delivered int
	}
	var curve []sample
	start := time.Now()
	record := func() sample {
		rss, file, err := rssMiB(pid)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := h.delivered()
		s := sample{time.Since(start).Round(time.Second), rss, file, n}
		curve = append(curve, s)
		return s
	}
	defer func() {
		var b strings.Builder
		for _, s := range curve {
			fmt.Fprintf(&b, "%6s  rss %6.1f MiB (files %5.1f)  delivered %d\n", s.at, s.rss, s.file, s.delivered)
		}
		t.Logf("memory curve (flood %s at %d events/s over %d live pids, then idle):\n%s", flood, perSecond, livePids, b.String())
	}()
	record()

	injected := 0
	next := 0
	perTick := perSecond * int(tick) / int(time.Second) / 2
	ticker := time.NewTicker(tick)
	lastSample := time.Now()
	for begin := time.Now(); time.Since(begin) < flood; {
		<-ticker.C
		execs := make([]map[string]string, perTick)
		conns := make([]map[string]string, perTick)
		for j := range perTick {
			p := strconv.Itoa(200_000 + next%livePids)
			next++
			execs[j] = map[string]string{"pid": p, "parent": "1", "path": "/usr/bin/curl", "cmdline": "curl -s https://example.com/" + strconv.Itoa(next),
				"cwd": "/tmp", "uid": "1000", "gid": "1000", "euid": "1000", "egid": "1000", "auid": "1000", "syscall": "execve"}
			conns[j] = map[string]string{"action": "connect", "pid": p, "path": "/usr/bin/curl", "fd": "3", "auid": "1000",
				"family": "2", "remote_address": "198.51.100." + strconv.Itoa(next%250+1), "remote_port": "443"}
		}
		if _, err := core.InjectProcessEvents(execs...); err != nil {
			t.Fatal(err)
		}
		if _, err := core.InjectSocketEvents(conns...); err != nil {
			t.Fatal(err)
		}
		injected += 2 * perTick
		if time.Since(lastSample) >= time.Second {
			lastSample = time.Now()
			record()
		}
	}
	ticker.Stop()
	floodEnd := len(curve)

	// Every event is read.
	eventually(t, 60*time.Second, func() string {
		s := record()
		if s.delivered < injected {
			time.Sleep(time.Second)
			return fmt.Sprintf("delivered %d of %d", s.delivered, injected)
		}
		return ""
	})
	// Steady state: the second half of the flood and the catch-up.
	peak := 0.0
	for _, s := range curve[max(floodEnd/2, 1):] {
		peak = max(peak, s.rss)
	}
	if peak > limitMiB {
		t.Errorf("resident memory reached %.1f MiB under the flood, over %d MiB", peak, limitMiB)
	}
	// Idle: the memory goes back.
	var idle sample
	for range 20 {
		time.Sleep(time.Second)
		idle = record()
		if idle.rss < peak*0.75 {
			break
		}
	}
	if idle.rss >= peak*0.75 {
		t.Errorf("idle resident memory %.1f MiB, still over 3/4 of the flood's %.1f MiB", idle.rss, peak)
	}
}
