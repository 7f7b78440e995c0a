package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/fleetdouble"
)

const huntToken = "hunt-token-5b0e9a7c2d"

func huntFleet(t *testing.T, cfg fleetdouble.Config) *fleetdouble.Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = huntToken
	}
	srv := fleetdouble.New(cfg)
	t.Cleanup(srv.Close)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("FLEET_URL", srv.URL)
	t.Setenv("FLEET_API_TOKEN", huntToken)
	return srv
}

func runHuntArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runHunt(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

var huntHosts = []fleetdouble.Host{
	{ID: 1, Hostname: "web-01", Labels: []string{"osqdetect"}, Rows: []map[string]string{
		{"id": "a1", "time": "1700000000", "rule_id": "r1", "severity": "high", "reason": "shell, with \"quotes\""},
	}},
	{ID: 2, Hostname: "web-02", Labels: []string{"osqdetect"}},
}

func TestHuntCompleteJSONL(t *testing.T) {
	huntFleet(t, fleetdouble.Config{Hosts: huntHosts, Labels: []fleetdouble.Label{{ID: 1, Name: "osqdetect"}}})
	code, out, errOut := runHuntArgs("--labels", "osqdetect", "--format", "jsonl", "--sql", "SELECT * FROM alerts;")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout lines %q", lines)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	if row["fleet_hostname"] != "web-01" || row["fleet_host_id"] != float64(1) || row["reason"] != `shell, with "quotes"` {
		t.Errorf("row %v", row)
	}
	if _, ok := row["host_hostname"]; ok {
		t.Error("Fleet's injected host_hostname column kept")
	}
	if !strings.Contains(errOut, "2 of 2 targeted hosts answered: 1 with rows (1 row), 1 empty") {
		t.Errorf("summary:\n%s", errOut)
	}
	if strings.Contains(errOut, "\r") {
		t.Error("progress line drawn although stderr is not a terminal")
	}
}

// TestHuntPartialCoverage: hosts that are offline, silent, lack the
// extension or fail are tolerated (exit 0) and named in the summary.
func TestHuntPartialCoverage(t *testing.T) {
	hosts := append([]fleetdouble.Host{}, huntHosts...)
	hosts = append(hosts,
		fleetdouble.Host{ID: 3, Hostname: "db-01", MissingExtension: true},
		fleetdouble.Host{ID: 4, Hostname: "laptop", Offline: true},
		fleetdouble.Host{ID: 5, Hostname: "hung", Silent: true},
		fleetdouble.Host{ID: 6, Hostname: "broken", Error: "disk I/O error"},
	)
	huntFleet(t, fleetdouble.Config{Hosts: hosts})
	code, out, errOut := runHuntArgs("--hosts", "web-01,web-02,db-01", "--hosts", "laptop,hung,broken", "--timeout", "300ms", "--format", "csv")
	if code != exitOK {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitOK, errOut)
	}
	t.Logf("stderr:\n%s", errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0][0] != "fleet_hostname" || recs[0][1] != "fleet_host_id" || recs[0][2] != "id" || recs[1][0] != "web-01" {
		t.Errorf("csv %q", recs)
	}
	for _, want := range []string{
		"4 of 6 targeted hosts answered", "1 extension missing", "1 error; 1 offline, 1 timed out",
		"not answered: hung, laptop", "db-01", "no such table: alerts", "disk I/O error", "stopped at --timeout with 1 host online but silent",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
}

func TestHuntShortcutsBuildQuotedSQL(t *testing.T) {
	srv := huntFleet(t, fleetdouble.Config{Hosts: huntHosts})
	huntNow = func() time.Time { return time.Unix(1700086400, 0) }
	defer func() { huntNow = time.Now }()
	code, _, errOut := runHuntArgs("--hosts", "web-01", "--rule", "x' OR '1'='1", "--severity", "HIGH", "--since", "24h", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = runHuntArgs("--hosts", "web-01")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := srv.LiveQueries()
	want := []string{
		"SELECT * FROM alerts WHERE rule_id = 'x'' OR ''1''=''1' AND severity IN ('high', 'critical') AND time >= 1700000000 ORDER BY time;",
		"SELECT * FROM alerts WHERE time >= 1700000000 ORDER BY time;",
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("live queries\n%q\nwant\n%q", got, want)
	}
}

func TestHuntTableFormat(t *testing.T) {
	huntFleet(t, fleetdouble.Config{Hosts: huntHosts})
	code, out, errOut := runHuntArgs("--hosts", "web-01,web-02")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "fleet_hostname") || !strings.HasPrefix(lines[1], "web-01") {
		t.Errorf("table:\n%s", out)
	}
}

func TestHuntFailuresAndUsage(t *testing.T) {
	cases := []struct {
		name string
		cfg  fleetdouble.Config
		args []string
		code int
		text string
	}{
		{"auth failure", fleetdouble.Config{Token: "another"}, []string{"--hosts", "web-01"}, exitFailure, "Authentication failed"},
		{"unknown label", fleetdouble.Config{}, []string{"--labels", "nope"}, exitFailure, "Invalid label"},
		{"no targets", fleetdouble.Config{}, []string{"--sql", "SELECT 1"}, exitUsage, "--hosts, --labels or --team"},
		{"sql and shortcut", fleetdouble.Config{}, []string{"--hosts", "a", "--sql", "SELECT 1", "--rule", "r"}, exitUsage, "cannot be combined"},
		{"bad severity", fleetdouble.Config{}, []string{"--hosts", "a", "--severity", "severe"}, exitUsage, "not one of low, medium, high, critical"},
		{"bad format", fleetdouble.Config{}, []string{"--hosts", "a", "--format", "xml"}, exitUsage, "--format"},
		{"stray argument", fleetdouble.Config{}, []string{"--hosts", "a", "SELECT 1"}, exitUsage, "unexpected argument"},
		{"bad flag", fleetdouble.Config{}, []string{"--nope"}, exitUsage, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Hosts = huntHosts
			tc.cfg.EchoToken = true
			huntFleet(t, tc.cfg)
			code, _, errOut := runHuntArgs(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.text) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.code, errOut, tc.text)
			}
			if strings.Contains(errOut, huntToken) {
				t.Errorf("stderr shows the token:\n%s", errOut)
			}
		})
	}
}

func TestHuntNoCredentials(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("FLEET_URL", "")
	t.Setenv("FLEET_API_TOKEN", "")
	code, _, errOut := runHuntArgs("--hosts", "a")
	if code != exitFailure || !strings.Contains(errOut, "FLEET_API_TOKEN") {
		t.Errorf("exit %d stderr %s", code, errOut)
	}
}

// TestHuntStreamErrorFails: an error on Fleet's result stream is a
// runtime failure (exit 1), but the rows that arrived are still printed.
func TestHuntStreamErrorFails(t *testing.T) {
	huntFleet(t, fleetdouble.Config{Hosts: huntHosts, StreamErrors: []string{"pubsub error: flaky"}})
	code, out, errOut := runHuntArgs("--hosts", "web-01,web-02", "--format", "jsonl", "--timeout", "2s")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailure, errOut)
	}
	if !strings.Contains(out, `"fleet_hostname":"web-01"`) {
		t.Errorf("the row that arrived was not printed:\n%s", out)
	}
	for _, want := range []string{"fleet error: pubsub error: flaky", "result stream reported 1 error(s)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
