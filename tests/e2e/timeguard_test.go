package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// A process_events and a socket_events row stamped in the year 3000, then
// a real attack: the planted rows are quarantined (counted and named in
// detection_health), the cursor keeps following the clock, and the attack
// raises every alert it should.
func TestRowsFromTheFutureAreQuarantined(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	const year3000 = "32503680000"
	if _, err := h.core.InjectProcessEvents(map[string]string{"pid": "666", "parent": "1", "path": "/usr/bin/true",
		"cmdline": "true", "syscall": "execve", "time": year3000}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.core.InjectSocketEvents(map[string]string{"action": "connect", "pid": "666", "path": "/usr/bin/true",
		"family": "2", "remote_address": "198.51.100.7", "remote_port": "443", "time": year3000}); err != nil {
		t.Fatal(err)
	}
	h.launch()
	h.waitRegistered()

	h.replayDemoExpectingSeedAlerts()
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for _, table := range []string{"process_events", "socket_events"} {
		key := "source/" + table + "/"
		if hl[key+"rows_quarantined"] != "1" || hl[key+"rows_quarantined#status"] != "warning" ||
			!strings.Contains(hl[key+"rows_quarantined#detail"], "3000-01-01") {
			t.Errorf("%s rows_quarantined %q (%s): %q, want 1, a warning naming the year 3000", table,
				hl[key+"rows_quarantined"], hl[key+"rows_quarantined#status"], hl[key+"rows_quarantined#detail"])
		}
		if c := atoi(hl[key+"cursor"]); c > now || c < now-60 {
			t.Errorf("%s cursor %d, want close behind the clock %d", table, c, now)
		}
		if hl[key+"stalled_seconds"] != "0" {
			t.Errorf("%s stalled_seconds %q, want 0", table, hl[key+"stalled_seconds"])
		}
	}
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
