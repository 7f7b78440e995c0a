package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `rules test` runs one rule file over ECS events or an osquery results
// log and prints the alerts it would raise.
func TestRulesTest(t *testing.T) {
	queryRule := writeFile(t, "q.toml", `[metadata]
creation_date = "2025/01/01"

[rule]
author = ["test"]
description = "curl runs"
name = "Curl Runs"
risk_score = 21
rule_id = "00000000-0000-0000-0000-000000000001"
severity = "low"
type = "query"
language = "kuery"
index = ["logs-endpoint.events.process-*"]
interval = "5m"
max_signals = 2
query = '''
event.category:process and process.name:curl
'''
`)
	events := writeFile(t, "events.jsonl", `{"@timestamp": "2025-01-01T00:00:01Z", "event": {"category": "process"}, "process": {"name": "curl", "pid": 1}}
{"@timestamp": "2025-01-01T00:00:02Z", "event": {"category": "process"}, "process": {"name": "curl", "pid": 2, "args": [{"value": "x"}]}}
{"@timestamp": "2025-01-01T00:00:03Z", "event": {"category": "process"}, "process": {"name": "wget", "pid": 3}}
{"@timestamp": "2025-01-01T00:00:04Z", "event": {"category": "process"}, "process": {"name": "curl", "pid": 4}}
{"@timestamp": "2025-01-01T00:10:04Z", "event": {"category": "process"}, "process": {"name": "curl", "pid": 5}}
`)
	newTerms := filepath.Join("..", "..", "rules", "builtin", "defense_evasion_symlink_binary_to_writable_dir.toml")
	symlinks := writeFile(t, "symlinks.json", `[
 {"@timestamp": 1000, "host": {"id": "h", "os": {"type": "linux"}}, "event": {"category": "process", "type": "start", "action": "exec"},
  "process": {"pid": 1, "name": "ln", "args": ["ln", "-s", "/bin/bash", "/tmp/x"], "parent": {"name": "sh", "executable": "/bin/sh"}}},
 {"@timestamp": 2000, "host": {"id": "h", "os": {"type": "linux"}}, "event": {"category": "process", "type": "start", "action": "exec"},
  "process": {"pid": 2, "name": "ln", "args": ["ln", "-s", "/bin/bash", "/tmp/y"], "parent": {"name": "sh", "executable": "/bin/sh"}}},
 {"@timestamp": 3000, "host": {"id": "h", "os": {"type": "linux"}}, "event": {"category": "process", "type": "start", "action": "exec"},
  "process": {"pid": 3, "name": "ln", "args": ["ln", "-s", "/bin/bash", "/tmp/z"], "parent": {"name": "python3", "executable": "/usr/bin/python3"}}}
]`)
	tests := []struct {
		name      string
		args      []string
		wantPids  []float64
		wantInErr string
	}{
		{"query rule with max_signals per interval", []string{"--rule", queryRule, events}, []float64{1, 2, 5}, "5 events read, 3 alerts (1 suppressed by max_signals)"},
		{"without the rate limit", []string{"--no-rate-limit", "--rule", queryRule, events}, []float64{1, 2, 4, 5}, "4 alerts"},
		{"new_terms history", []string{"--rule", newTerms, symlinks}, []float64{1, 3}, "3 events read, 2 alerts"},
		{"osquery results log", []string{"--rule", filepath.Join("..", "..", "rules", "builtin", "execution_shell_via_suspicious_binary.toml"),
			filepath.Join("..", "..", "tests", "scenarios", "demo-results.log")}, []float64{5120}, "1 alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", append([]string{"rules", "test"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var pids []float64
			for _, a := range alertsOf(t, out) {
				pids = append(pids, a["pid"].(float64))
			}
			if len(pids) != len(tt.wantPids) {
				t.Fatalf("alert pids %v, want %v\n%s", pids, tt.wantPids, errs)
			}
			for i := range pids {
				if pids[i] != tt.wantPids[i] {
					t.Fatalf("alert pids %v, want %v", pids, tt.wantPids)
				}
			}
			if !strings.Contains(errs, tt.wantInErr) {
				t.Errorf("stderr %q lacks %q", errs, tt.wantInErr)
			}
		})
	}
	if code, _, errs := runCLI(t, "", "rules", "test", "--rule", writeFile(t, "bad.toml", "[rule]\n"), events); code != exitUsage || !strings.Contains(errs, "rule rejected") {
		t.Errorf("a bad rule: exit %d, stderr %q", code, errs)
	}
}

// A misspelled field is named with its file, line and the closest valid
// name, as Elastic's rule tooling would reject it.
func TestRulesValidateUnknownField(t *testing.T) {
	good, err := os.ReadFile("../../rules/builtin/execution_shell_via_suspicious_binary.toml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `process.name : ("bash", "dash"`, `process.nme : ("bash", "dash"`, 1)
	path := writeFile(t, "typo.toml", bad)
	code, out, _ := runCLI(t, "", "rules", "validate", "--no-builtin", "--rules", path)
	want := path + `: line 51: unknown field "process.nme" (not in ECS 9.4.0 or Elastic's non-ECS schemas); did you mean "process.name"?`
	if code != exitUsage || !strings.Contains(out, want) {
		t.Errorf("exit %d, output:\n%s\nwant a line with:\n%s", code, out, want)
	}
}

// A sequence without maxspan keeps its partial sequences as long as the
// input lasts (Elasticsearch's EQL search has no time limit); when their
// count bound is reached, query fails instead of answering less.
func TestQuerySequenceBound(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 20; i++ {
		// Years apart: no time window may drop them.
		fmt.Fprintf(&b, `{"@timestamp": %d, "event": {"category": "process"}, "k": %d}`+"\n", int64(i)*365*24*3600*1000, i)
	}
	fmt.Fprintf(&b, `{"@timestamp": %d, "event": {"category": "network"}, "k": 0}`+"\n", int64(30)*365*24*3600*1000)
	path := writeFile(t, "events.jsonl", b.String())
	query := `sequence by k [process where true] [network where true]`
	code, out, errs := runCLI(t, "", "query", "--lang", "eql", path, query)
	if code != exitOK || len(alertsOf(t, out)) != 2 {
		t.Fatalf("exit %d, output %q, stderr %s", code, out, errs)
	}
	defer func(old int) { queryMaxPending = old }(queryMaxPending)
	queryMaxPending = 10
	code, out, errs = runCLI(t, "", "query", "--lang", "eql", path, query)
	if code != exitFailure || !strings.Contains(errs, "more than 10 partial sequences pending") || !strings.Contains(errs, path+" line 11") {
		t.Errorf("exit %d, stderr %q, stdout %q", code, errs, out)
	}
}
