package main

import (
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/extension"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		code, out, errOut := runCLI(t, "", arg)
		if code != exitOK || out != "osqdetect "+extension.Version+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
}

// Asking for help is not a usage error, for every command.
func TestHelpExitsZeroWithTwoDashFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"rules", "--help"}, {"rules", "list", "--help"}, {"hunt", "--help"},
		{"fleet", "--help"}, {"fleet", "export", "--help"}, {"fleet", "pack", "-h"},
	} {
		code, _, errOut := runCLI(t, "", args...)
		if code != exitOK {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		for _, line := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
				t.Errorf("%q: flag shown with one dash: %q", args, line)
			}
		}
	}
	code, _, errOut := runCLI(t, "", "hunt", "--nope")
	if code != exitUsage || !strings.Contains(errOut, "flag provided but not defined: --nope") {
		t.Errorf("unknown flag: exit %d\n%s", code, errOut)
	}
}

// A named file that does not exist is bad input (2): hunt's --config
// and --rootca, fleet export's --settings, rules' --rules.
func TestMissingFileIsBadInput(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("FLEET_URL", "https://fleet.example.com")
	t.Setenv("FLEET_API_TOKEN", "t")
	for _, args := range [][]string{
		{"hunt", "--hosts", "a", "--config", "/nonexistent/fleet.yml"},
		{"hunt", "--hosts", "a", "--rootca", "/nonexistent/fleet.yml"},
		{"fleet", "export", "--out", t.TempDir(), "--settings", "/nonexistent/fleet.yml"},
		{"rules", "validate", "--rules", "/nonexistent/fleet.yml"},
	} {
		code, _, errOut := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(errOut, "/nonexistent/fleet.yml") {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}
