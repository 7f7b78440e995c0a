package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func alertsOf(t *testing.T, jsonl string) []map[string]any {
	t.Helper()
	var alerts []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line is not JSON: %v: %s", err, line)
		}
		alerts = append(alerts, a)
	}
	return alerts
}

// TestScanRecordedScenario scans the recorded two-host log: the symlink
// attack and the reverse shell, whose connect row sits in a later log
// block than its exec rows, among benign noise.
func TestScanRecordedScenario(t *testing.T) {
	code, out, errs := runCLI(t, "", "scan", "../../tests/scenarios/demo-results.log")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	alerts := alertsOf(t, out)
	if len(alerts) != 2 {
		t.Fatalf("got %d alerts, want 2:\n%s", len(alerts), out)
	}
	want := map[string]string{
		"d19a2399-f8e2-4b10-80d8-a561ce9d24d1": "4c4c4544-0057-3410-8056-b4c04f4d3532",
		"fa3a59dc-33c3-43bf-80a9-e8437a922c7f": "4c4c4544-0044-4810-8036-c7c04f593332",
	}
	for _, a := range alerts {
		host, ok := want[a["rule_id"].(string)]
		if !ok || a["host_id"] != host {
			t.Errorf("unexpected alert %v on %v", a["rule_id"], a["host_id"])
		}
		for _, col := range []string{"id", "time", "rule_name", "rule_type", "severity", "risk_score", "tactics", "techniques",
			"pid", "process_executable", "process_name", "process_command_line", "parent_pid", "parent_executable", "parent_name",
			"user_id", "destination_ip", "destination_port", "reason", "events"} {
			if _, ok := a[col]; !ok {
				t.Errorf("alert lacks column %q", col)
			}
		}
	}
	// Scanning the same log twice (overlapping inputs) gives each alert once.
	code, out, _ = runCLI(t, "", "scan", "../../tests/scenarios/demo-results.log", "../../tests/scenarios/demo-results.log")
	if code != exitOK || len(alertsOf(t, out)) != 2 {
		t.Errorf("overlapping scan: exit %d, %d alerts, want 0 and 2", code, len(alertsOf(t, out)))
	}
}

func TestScanBadInput(t *testing.T) {
	exec := func(pid, cmd string) string {
		return `{"name":"pack/osqdetect/process_events","hostIdentifier":"h1","unixTime":1763800060,"columns":{"pid":"` + pid +
			`","parent":"100","path":"/usr/bin/ln","cmdline":"` + cmd + `","time":"1763800000","eid":"0000000001","syscall":"execve","uid":"0","euid":"0","gid":"0","egid":"0","cwd":"/"},"action":"added"}`
	}
	seed := `{"name":"processes","hostIdentifier":"h1","unixTime":1763799000,"action":"snapshot","snapshot":[{"pid":"100","parent":"1","name":"python3","path":"/usr/bin/python3","cmdline":"python3 x.py","start_time":"1763700000","uid":"0","gid":"0","euid":"0","egid":"0","cwd":"/"}]}`
	log := strings.Join([]string{
		seed,
		`{"name":"pack/osqdetect/process_events", this is not json`,
		exec("12ab", "ln -s /bin/bash /tmp/a"),
		`{"name":"pack/x/users","hostIdentifier":"h1","unixTime":1763800060,"columns":{"username":"root"},"action":"added"}`,
		exec("300", "ln -s /bin/bash /tmp/b"),
	}, "\n") + "\n"
	path := writeFile(t, "results.log", log)
	code, out, errs := runCLI(t, "", "scan", path)
	if code != exitUsage {
		t.Errorf("exit %d, want %d for bad input", code, exitUsage)
	}
	if n := len(alertsOf(t, out)); n != 1 {
		t.Errorf("got %d alerts, want the good row's 1:\n%s", n, out)
	}
	for _, want := range []string{path + ":2:", path + ":3:", path + ":4:", "2 bad lines, 1 rows rejected"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(errs, "pid") {
		t.Errorf("stderr does not name the bad pid:\n%s", errs)
	}
}

// TestScanState keeps new-terms history between scans: the same parent
// seen again in a later log is not new.
func TestScanState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	logFor := func(pid, tm string) string {
		return `{"name":"processes","hostIdentifier":"h1","unixTime":1763799000,"action":"snapshot","snapshot":[{"pid":"100","parent":"1","name":"bash","path":"/usr/bin/bash","cmdline":"bash","start_time":"1763700000"}]}` + "\n" +
			`{"name":"process_events","hostIdentifier":"h1","unixTime":` + tm + `,"columns":{"pid":"` + pid + `","parent":"100","path":"/usr/bin/ln","cmdline":"ln -s /bin/bash /tmp/x","time":"` + tm + `","eid":"000000000` + pid[len(pid)-1:] + `","syscall":"execve"},"action":"added"}` + "\n"
	}
	first := writeFile(t, "a.log", logFor("301", "1763800000"))
	second := writeFile(t, "b.log", logFor("302", "1763803600"))
	if code, out, errs := runCLI(t, "", "scan", "--state", state, first); code != exitOK || len(alertsOf(t, out)) != 1 {
		t.Fatalf("first scan: exit %d, %d alerts: %s", code, len(alertsOf(t, out)), errs)
	}
	if code, out, errs := runCLI(t, "", "scan", "--state", state, second); code != exitOK || len(alertsOf(t, out)) != 0 {
		t.Fatalf("second scan with state: exit %d, %d alerts, want 0: %s", code, len(alertsOf(t, out)), errs)
	}
	if code, out, _ := runCLI(t, "", "scan", second); code != exitOK || len(alertsOf(t, out)) != 1 {
		t.Fatalf("second scan without state: exit %d, %d alerts, want 1", code, len(alertsOf(t, out)))
	}
}

func TestQuery(t *testing.T) {
	events := `[
  {"@timestamp": "2025-11-22T10:00:00.500Z", "event": {"category": "process", "action": "exec"}, "process": {"entity_id": "A", "name": "x", "args": ["x", "-c"]}, "seq": 1},
  {"@timestamp": 1763805600700, "event.category": "network", "event.action": "connection_attempted", "process.entity_id": "A", "seq": 2},
  {"@timestamp": "2025-11-22T10:00:00.900Z", "event": {"category": "process", "action": "exec"}, "process": {"entity_id": "A", "name": "sh"}, "seq": 3},
  {"@timestamp": "2025-11-22T10:00:05Z", "event": {"category": "process", "action": "exec"}, "process": {"entity_id": "B", "name": "sh"}, "seq": 4}
]`
	path := writeFile(t, "events.json", events)
	tests := []struct {
		name, lang, query string
		wantSeqs          []float64
	}{
		{"kql array field", "kql", `process.args:-c`, []float64{1}},
		{"kql case-sensitive", "kql", `process.name:SH`, nil},
		{"eql case-insensitive colon", "eql", `process where process.name : "SH"`, []float64{3, 4}},
		{"eql sequence", "eql", `sequence by process.entity_id with maxspan=1s [process where true] [network where true] [process where process.name == "sh"]`, []float64{1, 2, 3}},
		{"eql maxspan exceeded", "eql", `sequence with maxspan=100ms [process where true] [network where true]`, nil},
		{"eql tail pipe", "eql", `process where true | tail 1`, []float64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", "query", "--lang", tt.lang, path, tt.query)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got []float64
			for _, ev := range alertsOf(t, out) {
				got = append(got, ev["seq"].(float64))
			}
			if len(got) != len(tt.wantSeqs) {
				t.Fatalf("got events %v, want %v", got, tt.wantSeqs)
			}
			for i := range got {
				if got[i] != tt.wantSeqs[i] {
					t.Fatalf("got events %v, want %v", got, tt.wantSeqs)
				}
			}
		})
	}
}

func TestQueryBadInput(t *testing.T) {
	path := writeFile(t, "events.jsonl", `{"@timestamp": 1, "a": "x"}
not json
{"a": "no timestamp"}
{"@timestamp": 3, "a": "x"}
`)
	code, out, errs := runCLI(t, "", "query", "--lang", "eql", path, `any where a == "x"`)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if n := len(alertsOf(t, out)); n != 2 {
		t.Errorf("got %d events, want 2", n)
	}
	for _, want := range []string{path + ":2:", path + ":3:", "missing timestamp"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if code, _, errs := runCLI(t, "", "query", "--lang", "eql", path, `process where (`); code != exitUsage || !strings.Contains(errs, "line 1, column") {
		t.Errorf("bad query: exit %d, stderr %q", code, errs)
	}
}

func TestRulesValidate(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../rules/builtin/execution_shell_via_suspicious_binary.toml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `event.action == "exec" and`, `event.action == "exec" and and`, 1)
	bad = strings.Replace(bad, "fa3a59dc-33c3-43bf-80a9-e8437a922c7f", "00000000-0000-0000-0000-000000000001", 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "", "rules", "validate", "--rules", dir)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(out, "bad.toml: line 5") && !strings.Contains(out, "bad.toml: line") {
		t.Errorf("validate does not name the file and line:\n%s", out)
	}
	if !strings.Contains(out, "2 rules loaded, 1 rejected") {
		t.Errorf("summary missing:\n%s", out)
	}
	code, out, _ = runCLI(t, "", "rules", "list")
	if code != exitOK || !strings.Contains(out, "System Binary Symlink to Suspicious Location") || !strings.Contains(out, "Potential Reverse Shell via Suspicious Binary") {
		t.Errorf("rules list: exit %d:\n%s", code, out)
	}
}
