package store

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect"
)

// rssFileKiB is the process's resident file-backed memory (RssFile in
// /proc/self/status), or -1 where the kernel does not report it.
func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// Dropping the store's mapped pages from the resident set loses nothing:
// every value reads back the same afterwards (from the page cache).
func TestDropResidentPagesKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir)
	var alerts []*detect.Alert
	for i := range 2000 {
		alerts = append(alerts, testAlert(i, "r"+strconv.Itoa(i%7), int64(1000+i)))
	}
	mustCommit(t, s, Batch{Alerts: alerts, State: map[string][]byte{"big": []byte(strings.Repeat("x", 8<<20))}})
	before, err := s.Alerts(ctx, AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	residentBefore := rssFileKiB(t)
	if err := s.DropResidentPages(); err != nil {
		t.Fatal(err)
	}
	residentAfter := rssFileKiB(t)
	t.Logf("resident file-backed memory %d KiB -> %d KiB", residentBefore, residentAfter)
	if residentBefore > 0 && residentAfter > residentBefore-4<<10 {
		t.Errorf("resident file-backed memory %d KiB -> %d KiB: the 8 MiB value's pages stayed", residentBefore, residentAfter)
	}
	after, err := s.Alerts(ctx, AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatal("alerts differ after dropping the mapped pages")
	}
	if big, err := s.State(ctx, "big"); err != nil || len(big) != 8<<20 || strings.Trim(string(big), "x") != "" {
		t.Fatalf("state after dropping the mapped pages: %d bytes, %v", len(big), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.DropResidentPages(); !errors.Is(err, ErrClosed) {
		t.Errorf("DropResidentPages after Close: %v, want ErrClosed", err)
	}
}
