package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/internal/benchlog"
)

// The scan tests run the real binary as a user does, stdout a pipe.

const demoLog = "../scenarios/demo-results.log"

type scanResult struct {
	code        int
	out, stderr string
}

func runScan(t *testing.T, env []string, args ...string) scanResult {
	t.Helper()
	cmd := exec.Command(extBinary, append([]string{"scan"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return scanResult{code, out.String(), errb.String()}
}

// alertLines checks that every line of out is a whole JSON alert and
// returns their ids.
func alertLines(t *testing.T, out string) []string {
	t.Helper()
	if out != "" && !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a whole line: ...%q", out[max(0, len(out)-80):])
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.ID == "" {
			t.Fatalf("not a whole alert line: %v: %.200s", err, line)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// TestScanReadsEveryReadableFile: a missing file, before or after a good
// one, costs only itself; everything read is processed and written as
// whole lines, and the exit code says bad input (2).
func TestScanReadsEveryReadableFile(t *testing.T) {
	want := alertLines(t, runScan(t, nil, demoLog).out)
	if len(want) == 0 {
		t.Fatal("the demo log raised no alert")
	}
	missing := filepath.Join(t.TempDir(), "missing.log")
	for _, args := range [][]string{{demoLog, missing}, {missing, demoLog}} {
		r := runScan(t, nil, args...)
		if got := alertLines(t, r.out); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("scan %v: alerts %v, want %v", args, got, want)
		}
		if r.code != 2 || !strings.Contains(r.stderr, missing) || !strings.Contains(r.stderr, "1 file not read to the end") {
			t.Errorf("scan %v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
}

// TestScanReadsGzip: a rotated, gzip-compressed log reads as the plain one;
// a file that starts like gzip but is not is named as bad input.
func TestScanReadsGzip(t *testing.T) {
	plain, err := os.ReadFile(demoLog)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gz := filepath.Join(dir, "osqueryd.results.log.1.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain)
	zw.Close()
	if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := runScan(t, nil, demoLog)
	got := runScan(t, nil, gz)
	if got.code != 0 || got.out != want.out {
		t.Errorf("gzip scan: exit %d, %d bytes of alerts, want %d:\n%s", got.code, len(got.out), len(want.out), got.stderr)
	}
	bad := filepath.Join(dir, "truncated.log.gz")
	if err := os.WriteFile(bad, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	r := runScan(t, nil, bad, demoLog)
	if r.code != 2 || !strings.Contains(r.stderr, bad) || r.out != want.out {
		t.Errorf("truncated gzip then the demo log: exit %d, alerts equal %v, stderr:\n%s", r.code, r.out == want.out, r.stderr)
	}
}

// TestScanQuarantinesImplausibleTimes: one process_events and one
// socket_events row dated in the year 3000 are quarantined and named, and
// move no new-terms history: with --state, the same symlink attack from
// another parent twenty days later still raises its alert.
func TestScanQuarantinesImplausibleTimes(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	const host = "4c4c4544-0044-4810-8036-c7c04f593332"
	row := func(table, tm, cols string) string {
		return `{"name":"pack/osqdetect/` + table + `","hostIdentifier":"db-02","unixTime":` + tm +
			`,"decorations":{"host_uuid":"` + host + `"},"columns":{` + cols + `,"time":"` + tm + `"},"action":"added"}` + "\n"
	}
	exec := func(pid, parent, path, cmd, tm, eid string) string {
		return row("process_events", tm, `"pid":"`+pid+`","parent":"`+parent+`","path":"`+path+`","cmdline":"`+cmd+`","syscall":"execve","eid":"`+eid+`"`)
	}
	const t0 = 1763800000
	const year3000 = "32503680000"
	first := exec("100", "1", "/usr/bin/bash", "bash", "1763800000", "1") +
		exec("101", "100", "/usr/bin/ln", "ln -s /bin/bash /tmp/.a", "1763800001", "2") +
		exec("102", "100", "/usr/bin/ln", "ln -s /bin/bash /tmp/.b", year3000, "3") +
		row("socket_events", year3000, `"pid":"102","path":"/usr/bin/ln","action":"connect","family":"2","remote_address":"203.0.113.7","remote_port":"443","eid":"1"`) +
		exec("103", "100", "/usr/bin/true", "true", "1763800002", "4")
	a := filepath.Join(dir, "a.log")
	os.WriteFile(a, []byte(first), 0o644)
	r := runScan(t, nil, "--state", state, a)
	if r.code != 2 || len(alertLines(t, r.out)) != 1 ||
		!strings.Contains(r.stderr, "2 rows quarantined for implausible times") || !strings.Contains(r.stderr, a+":3") {
		t.Fatalf("first scan: exit %d, %d alerts, stderr:\n%s", r.code, len(alertLines(t, r.out)), r.stderr)
	}
	st, _ := os.ReadFile(state)
	if bytes.Contains(st, []byte(year3000)) || bytes.Contains(st, []byte("32503680")) {
		t.Fatalf("the state file keeps the quarantined time: %s", st)
	}
	// Twenty days later, the symlink from a new parent (sh): new, and
	// from bash again after the ten-day history window: new as well.
	later := func(d int64) string { return strconv.FormatInt(t0+d, 10) }
	second := exec("200", "1", "/usr/bin/sh", "sh", later(20*86400), "10") +
		exec("201", "200", "/usr/bin/ln", "ln -s /bin/bash /tmp/.c", later(20*86400+1), "11") +
		exec("202", "1", "/usr/bin/bash", "bash", later(20*86400+2), "12") +
		exec("203", "202", "/usr/bin/ln", "ln -s /bin/bash /tmp/.d", later(20*86400+3), "13")
	b := filepath.Join(dir, "b.log")
	os.WriteFile(b, []byte(second), 0o644)
	r = runScan(t, nil, "--state", state, b)
	if r.code != 0 || len(alertLines(t, r.out)) != 2 {
		t.Fatalf("twenty days later: exit %d, %d alerts, want 2:\n%s", r.code, len(alertLines(t, r.out)), r.stderr)
	}
}

// TestScanShardsMatchOneEngine: with two CPUs scan parses the log in
// chunks on every CPU and runs one engine per CPU, hosts sharded between
// them; the alerts (their order and ids) and the errors are those of one
// engine reading alone, rate limits included.
func TestScanShardsMatchOneEngine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := benchlog.Write(f, benchlog.Options{Rows: 60_000, Hosts: 7, RowsPerSecond: 200, AttackEvery: 150, Unique: true}); err != nil {
		t.Fatal(err)
	}
	// Bad lines at the end, one of them longer than a line may be: named
	// in file order whichever goroutine parsed them.
	f.WriteString("{\"name\": not json\n{\"name\":\"pack/x/users\",\"hostIdentifier\":\"h\",\"columns\":{\"u\":\"r\"},\"action\":\"added\"}\n")
	f.WriteString(strings.Repeat("x", 17<<20) + "\n[1]\n")
	f.Close()
	one := runScan(t, []string{"GOMAXPROCS=1"}, path)
	if one.code != 2 || !strings.Contains(one.stderr, "4 bad lines") || !strings.Contains(one.stderr, "results.log:60003: line is longer than") || !strings.Contains(one.stderr, "suppressed by rate limits") || strings.Contains(one.stderr, "(0 suppressed") {
		t.Fatalf("one CPU: exit %d (the log must hit rate limits):\n%s", one.code, one.stderr)
	}
	for _, cpus := range []string{"2", "3"} {
		many := runScan(t, []string{"GOMAXPROCS=" + cpus}, path)
		if many.code != 2 || many.out != one.out || many.stderr != one.stderr {
			t.Errorf("GOMAXPROCS=%s: exit %d, same alerts %v, stderr %q, want %q", cpus, many.code, many.out == one.out, many.stderr, one.stderr)
		}
	}
	if n := len(alertLines(t, one.out)); n < 100 {
		t.Errorf("only %d alerts", n)
	}
}

// TestScanStopsOnSIGTERM: scan reading a pipe that stays open (stdin, or a
// file still being read) ends promptly on SIGTERM with exit 1, the alerts
// of the rows it read written as whole lines and the summary printed.
func TestScanStopsOnSIGTERM(t *testing.T) {
	log, err := os.ReadFile(demoLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, cpus := range []string{"1", "2"} {
		cmd := exec.Command(extBinary, "scan", "-")
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+cpus)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stdin.Write(log) // and keep the pipe open
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("GOMAXPROCS=%s: scan did not end within 10 s of SIGTERM", cpus)
		}
		stdin.Close()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(errb.String(), "scanned 1 file, 992 lines") {
			t.Errorf("GOMAXPROCS=%s: exit %d, stderr:\n%s", cpus, code, errb.String())
		}
		if n := len(alertLines(t, out.String())); n != 2 {
			t.Errorf("GOMAXPROCS=%s: %d alerts, want the demo log's 2", cpus, n)
		}
	}
}
