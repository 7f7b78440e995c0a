package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/fleet"
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
	// With --format jsonl the summary is JSON lines too, in the words of
	// the text summary.
	recs := strings.Split(strings.TrimSpace(errOut), "\n")
	var sum struct {
		Type     string
		Targeted int
		Answered int
		Outcomes map[string]int
	}
	if err := json.Unmarshal([]byte(recs[len(recs)-1]), &sum); err != nil {
		t.Fatalf("last summary record: %v\n%s", err, errOut)
	}
	if sum.Type != "summary" || sum.Targeted != 2 || sum.Answered != 2 || sum.Outcomes["rows"] != 1 || sum.Outcomes["empty"] != 1 {
		t.Errorf("summary record %+v:\n%s", sum, errOut)
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
		"4 of 6 targeted hosts answered", "1 extension missing", "1 failed; 1 offline, 1 timed out, 0 unknown",
		"hung    timed out", "laptop  offline", "db-01", "no such table: alerts", "disk I/O error", "stopped at --timeout with 1 host online but silent",
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
	for _, want := range []string{`"stream_errors":["pubsub error: flaky"]`, "result stream reported 1 error;"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// A mistyped hostname next to a good one used to vanish ("1 of 1 targeted
// hosts answered", exit 0): it is now named as unknown, and --require-all
// turns any host or identifier that did not answer into exit 3.
func TestHuntUnknownIdentifierAndRequireAll(t *testing.T) {
	hosts := append([]fleetdouble.Host{}, huntHosts...)
	hosts[0].UUID = "4c4c4544-0001"
	hosts = append(hosts, fleetdouble.Host{ID: 3, Hostname: "db-01", MissingExtension: true})
	huntFleet(t, fleetdouble.Config{Hosts: hosts})

	code, _, errOut := runHuntArgs("--hosts", "nosuchhost,4c4c4544-0001", "--sql", "SELECT 1;")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"1 of 1 targeted hosts answered", "1 unknown", "nosuchhost", "unknown", "4c4c4544-0001 (web-01)  rows"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "hunt: hunt:") {
		t.Errorf("doubled prefix:\n%s", errOut)
	}

	cases := []struct {
		hosts string
		code  int
	}{
		{"web-01,web-02", exitOK},
		{"web-01,nosuchhost", exitIncomplete},
		{"web-01,db-01", exitIncomplete},
	}
	for _, tc := range cases {
		code, _, errOut := runHuntArgs("--hosts", tc.hosts, "--sql", "SELECT 1;", "--require-all")
		if code != tc.code {
			t.Errorf("--hosts %s --require-all: exit %d, want %d:\n%s", tc.hosts, code, tc.code, errOut)
		}
		if tc.code == exitIncomplete && !strings.Contains(errOut, "did not answer with rows or an empty result") {
			t.Errorf("--require-all failure not explained:\n%s", errOut)
		}
	}

	code, _, errOut = runHuntArgs("--hosts", "nosuchhost", "--sql", "SELECT 1;")
	if code != exitFailure || !strings.Contains(errOut, `no host has the identifier "nosuchhost"`) {
		t.Errorf("only unknown hosts: exit %d\n%s", code, errOut)
	}
}

// The progress line and the summary count with the same words.
func TestHuntProgressWordsMatchSummary(t *testing.T) {
	var by [fleet.StatusUnknown + 1]uint
	by[fleet.StatusRows], by[fleet.StatusExtensionMissing] = 2, 1
	got := answerCounts(by)
	if got != "2 rows, 0 empty, 1 extension missing, 0 failed" {
		t.Errorf("progress counts %q", got)
	}
}

func TestHuntHelpNamesExitCodes(t *testing.T) {
	code, _, errOut := runHuntArgs("--help")
	if code != exitOK {
		t.Errorf("--help exit %d", code)
	}
	for _, want := range []string{"3 with --require-all", "--require-all", "unknown"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("help lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "3 partial") {
		t.Errorf("help documents the old exit 3:\n%s", errOut)
	}
}

// The README's walk-through on the double: export, fleetctl apply both
// files in order, wait for the label to be evaluated, hunt on the label.
// It reaches exactly the hosts with the extension.
func TestHuntOnExportedLabel(t *testing.T) {
	srv := huntFleet(t, fleetdouble.Config{
		Teams: []fleetdouble.Team{{ID: 1, Name: "Servers"}},
		Hosts: []fleetdouble.Host{
			{ID: 1, Hostname: "web-01", Platform: "ubuntu", Rows: []map[string]string{{"id": "a1", "severity": "high"}}},
			{ID: 2, Hostname: "db-01", Platform: "rhel"},
			{ID: 3, Hostname: "plain-01", Platform: "debian", MissingExtension: true},
		},
	})
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"fleet", "export", "--format", "apply", "--out", dir}, stdio{out: &out, err: &errb}); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	for _, name := range []string{"osqdetect-labels.yml", "osqdetect.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Apply(b); err != nil {
			t.Fatalf("fleetctl apply -f %s: %v", name, err)
		}
	}
	srv.RefreshLabels()
	code, stdout, errOut := runHuntArgs("--labels", "osqdetect extension running", "--severity", "high", "--since", "24h", "--format", "jsonl", "--require-all")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, `"targeted":2,"answered":2`) || !strings.Contains(stdout, `"fleet_hostname":"web-01"`) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, errOut)
	}
}
