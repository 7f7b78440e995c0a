package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// envFullRead sets how many alerts TestFullReadOfTheAlertsTable stores:
// 2,000 by default, the default retention (100,000) for the long run
// (OSQDETECT_FULL_READ=100000 go test ./tests/e2e -run FullRead).
const envFullRead = "OSQDETECT_FULL_READ"

// storedAlert is an alert of about 2 KB, most of it its three events.
func storedAlert(i int) *detect.Alert {
	ev := fmt.Sprintf(`{"@timestamp":"2023-11-14T22:13:20.000Z","event":{"action":"exec","category":"process","id":"h:process_events:%010d:%016x"},"process":{"args":["/var/www/html/.x","203.0.113.9","4444"],"command_line":"/var/www/html/.x 203.0.113.9 4444","entity_id":"5f6d780325f5345e","executable":"/var/www/html/.x","name":".x","parent":{"command_line":"bash -i","executable":"/usr/bin/bash","name":"bash","pid":2100},"pid":%d}}`, i, i, 2000+i%30000)
	return &detect.Alert{
		ID: fmt.Sprintf("%08x-0000-5000-8000-%012x", i, i), Time: 1700000000 + int64(i/10), RuleID: reverseShellRule,
		RuleName: "Potential Reverse Shell via Suspicious Binary", RuleType: "eql", Severity: "medium", RiskScore: 47,
		Tactics: "TA0002", Techniques: "T1059", HostID: "6A4F1C52-0B7E-4D2A-9C1E-3F5B7D9E1A20", Pid: int64(2000 + i%30000),
		ProcessExecutable: "/var/www/html/.x", ProcessName: ".x", ProcessCommandLine: "/var/www/html/.x 203.0.113.9 4444",
		ParentPid: 2100, ParentExecutable: "/usr/bin/bash", ParentName: "bash", UserID: "33",
		DestinationIP: "203.0.113.9", DestinationPort: 4444, Reason: "process .x connected to 203.0.113.9:4444",
		Events: json.RawMessage("[" + strings.Join([]string{ev, ev, ev}, ",") + "]"),
	}
}

// peakRSS is a process's resident set high-water mark, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// A full SELECT * FROM alerts through osquery, at the extension's default
// table timeout (30 s): every alert arrives, and the extension's peak
// memory stays within a bound of the stored bytes. The stored alerts are
// written into the state directory before the extension starts, as a
// long-running extension would have accumulated them.
func TestFullReadOfTheAlertsTable(t *testing.T) {
	n := 2000
	if v := os.Getenv(envFullRead); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("%s=%q", envFullRead, v)
		}
	}
	h := newHost(t)
	s, _, err := store.Open(context.Background(), h.stateDir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for start := 0; start < n; start += 5000 {
		var batch []*detect.Alert
		for i := start; i < min(n, start+5000); i++ {
			a := storedAlert(i)
			b, _ := json.Marshal(a)
			stored += len(b)
			batch = append(batch, a)
		}
		if _, err := s.Commit(context.Background(), store.Batch{Alerts: batch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	h.startCore(osqcore.Options{CallTimeout: 5 * time.Minute})
	ext := h.launch()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Only wait for the registration: WaitForExtension reads every table
	// (osquery does not pass LIMIT to an extension, so even LIMIT 1 is a
	// full read), which would blur the two reads measured here.
	eventually(t, time.Minute, func() string {
		for _, e := range h.core.Extensions() {
			if e.Name == "osqdetect" {
				return ""
			}
		}
		return "osqdetect not registered"
	})
	time.Sleep(time.Second) // the start-up polls settle
	before := peakRSS(t, ext.cmd.Process.Pid)
	for _, sql := range []string{"SELECT id, time, rule_name FROM alerts", "SELECT * FROM alerts"} {
		start := time.Now()
		rows, err := h.core.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if len(rows) != n {
			t.Fatalf("%s: %d rows, want %d", sql, len(rows), n)
		}
		peak := peakRSS(t, ext.cmd.Process.Pid)
		t.Logf("%s: %d rows (%d MB stored) in %s; extension peak RSS %d MB (%d MB before the reads)",
			sql, len(rows), stored>>20, time.Since(start).Round(time.Millisecond), peak>>20, before>>20)
		// The bound, over what the extension held before: 3 x the stored
		// bytes plus 64 MB. The rows take at most 1.75 x (see
		// tables/alerts), and the Go collector lets the heap grow past the
		// live rows before it collects. (At 100,000 alerts: +117 MB for
		// the three columns, +503 MB for SELECT *, 185 MB stored.)
		if limit := before + 3*int64(stored) + 64<<20; peak > limit {
			t.Errorf("%s: extension peak RSS %d MB, over the bound %d MB", sql, peak>>20, limit>>20)
		}
	}
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	if hl["table/alerts/timeouts"] != "0" || hl["table/alerts/errors"] != "0" {
		t.Errorf("alerts table timeouts %q errors %q, want 0 and 0", hl["table/alerts/timeouts"], hl["table/alerts/errors"])
	}
}
