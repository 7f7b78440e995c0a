package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/internal/benchlog"
)

// TestSQLFindsScansAlerts runs the comparison on a small generated log:
// the SQL in seed-detections.sql must find exactly the alerts scan finds
// (compare fails otherwise). Needs Debian's sqlite3 CLI (.ci/run installs
// it).
func TestSQLFindsScansAlerts(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 CLI not installed (apt-get install -y sqlite3)")
	}
	bin := filepath.Join(t.TempDir(), "osqdetect")
	build := exec.Command("go", "build", "-o", bin, "./cmd/osqdetect")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building osqdetect: %v\n%s", err, out)
	}
	o := benchlog.Options{Rows: 20_000, Hosts: 5, RowsPerSecond: 300, AttackEvery: 400, Unique: true}
	var out strings.Builder
	if err := compare(&out, bin, "sqlite3", o, "", false, 1); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// 49 reverse shells (one an attack cut short by the end of the log)
	// and a symlink per host: the same log always.
	if !strings.Contains(out.String(), "same alerts: 54\n") {
		t.Errorf("want 54 alerts found by both, got:\n%s", out.String())
	}
}
