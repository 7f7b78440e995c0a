package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// scanParts scans the log split into parts with one state file and returns
// every alert line printed, sorted.
func scanParts(t *testing.T, parts []string) []string {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	var all []string
	for i, p := range parts {
		path := filepath.Join(dir, "part"+string(rune('a'+i))+".log")
		if err := os.WriteFile(path, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCLI(t, "", "scan", "--state", state, path)
		if code != exitOK {
			t.Fatalf("part %d: exit %d: %s", i, code, errs)
		}
		for _, l := range strings.Split(out, "\n") {
			if l != "" {
				all = append(all, l)
			}
		}
	}
	slices.Sort(all)
	return all
}

// Scanning a log in two parts with a state file gives exactly the alerts of
// one scan of the whole log (each once, byte for byte), wherever the log is
// cut: the recorded scenario's reverse shell has its connect row in a later
// log block than its exec rows, so many cuts fall inside the reorder window
// and inside the sequence. make test cuts at every 40th line and around the
// attacks; OSQDETECT_CRASH_LONG=1 (make crash) at every line, and in three
// parts.
func TestScanStateAtEverySplitPoint(t *testing.T) {
	data, err := os.ReadFile("../../tests/scenarios/demo-results.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	want := scanParts(t, []string{string(data)})
	if len(want) != 2 {
		t.Fatalf("the whole log gives %d alerts, want the 2 seed attacks", len(want))
	}
	long := os.Getenv("OSQDETECT_CRASH_LONG") != ""
	near := func(k int) bool {
		for _, l := range lines[max(k-2, 0):min(k+2, len(lines))] {
			if strings.Contains(l, `"/tmp/x"`) || strings.Contains(l, `"4444"`) || strings.Contains(l, `ln -s /bin/bash`) {
				return true
			}
		}
		return false
	}
	join := func(ls []string) string { return strings.Join(ls, "") }
	tried := 0
	for k := 0; k <= len(lines); k++ {
		if !long && k%40 != 0 && !near(k) {
			continue
		}
		tried++
		got := scanParts(t, []string{join(lines[:k]), join(lines[k:])})
		if !slices.Equal(got, want) {
			t.Fatalf("cut after line %d: %d alerts, want %d\n got %s\nwant %s", k, len(got), len(want),
				strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
	}
	t.Logf("%d cut points of %d lines", tried, len(lines))
	if long {
		for k1 := 0; k1 <= len(lines); k1 += 37 {
			for k2 := k1; k2 <= len(lines); k2 += 53 {
				got := scanParts(t, []string{join(lines[:k1]), join(lines[k1:k2]), join(lines[k2:])})
				if !slices.Equal(got, want) {
					t.Fatalf("cuts after lines %d and %d: %d alerts, want %d", k1, k2, len(got), len(want))
				}
			}
		}
	}
}
