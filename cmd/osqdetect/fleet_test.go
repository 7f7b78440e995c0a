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

func runFleetArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runFleet(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestFleetExportGitOpsWritesLibraryFiles(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runFleetArgs("export", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"labels.yml", "queries.yml", "policies.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, "lib", "osqdetect", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "osqdetect extension running") {
			t.Errorf("%s does not name the label:\n%s", f, b)
		}
	}
	// A second run gives the same bytes.
	first, _ := os.ReadFile(filepath.Join(dir, "lib", "osqdetect", "queries.yml"))
	runFleetArgs("export", "--out", dir)
	second, _ := os.ReadFile(filepath.Join(dir, "lib", "osqdetect", "queries.yml"))
	if !bytes.Equal(first, second) {
		t.Error("export is not deterministic")
	}
}

func TestFleetExportApplyFiles(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runFleetArgs("export", "--format", "apply", "--out", dir, "--team", "Servers", "--policy-severity", "critical")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	labels, _ := os.ReadFile(filepath.Join(dir, "osqdetect-labels.yml"))
	specs, _ := os.ReadFile(filepath.Join(dir, "osqdetect.yml"))
	if !strings.Contains(string(labels), "kind: label") || strings.Contains(string(labels), "kind: query") {
		t.Errorf("osqdetect-labels.yml:\n%s", labels)
	}
	for _, want := range []string{"kind: query", "kind: policy", "team: Servers", "severity IN ('critical')"} {
		if !strings.Contains(string(specs), want) {
			t.Errorf("osqdetect.yml lacks %q", want)
		}
	}
}

func TestFleetPack(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.json")
	code, _, errOut := runFleetArgs("pack", "--out", file, "--interval", "30s")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(file)
	var p struct {
		Queries map[string]struct {
			Interval int   `json:"interval"`
			Removed  *bool `json:"removed"`
		} `json:"queries"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if q := p.Queries["osqdetect_alerts"]; q.Interval != 30 || q.Removed == nil || *q.Removed {
		t.Errorf("alerts query %+v", q)
	}
}

func TestFleetUsage(t *testing.T) {
	cases := [][]string{
		{},
		{"nope"},
		{"export", "--format", "xml"},
		{"export", "--out", "-"},
		{"export", "--format", "apply", "--out", "-"},
		{"export", "--team", "x"},
		{"export", "--policy-severity", "severe", "--format", "apply"},
		{"pack", "--interval", "0s"},
		{"pack", "extra"},
	}
	for _, args := range cases {
		if code, _, errOut := runFleetArgs(args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q; want %d with a message", args, code, errOut, exitUsage)
		}
	}
}

func TestFleetExportSettings(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, "osqdetect.conf", "poll_interval = \"5s\"\n")
	if code, _, errOut := runFleetArgs("export", "--out", dir, "--settings", good); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	script, err := os.ReadFile(filepath.Join(dir, "lib", "osqdetect", "install-osqdetect-conf.sh"))
	if err != nil || !strings.Contains(string(script), "poll_interval = \"5s\"") {
		t.Errorf("script %s (%v)", script, err)
	}
	bad := writeFile(t, "bad.conf", "poll_interval = \"2 seconds\"\n")
	for _, args := range [][]string{
		{"export", "--out", dir, "--settings", bad},
		{"export", "--out", dir, "--settings", filepath.Join(dir, "missing.conf")},
		{"export", "--format", "apply", "--out", dir, "--settings", good},
	} {
		if code, _, errOut := runFleetArgs(args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}
