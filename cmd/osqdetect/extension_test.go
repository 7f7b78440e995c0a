package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExtensionFlagsAsOsquerydPassesThem(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		socket   string
		timeout  time.Duration
		interval time.Duration
		verbose  bool
	}{
		{"autoload argv", []string{"--socket", "/var/osquery/osquery.em", "--timeout", "3", "--interval", "3"}, -1, "/var/osquery/osquery.em", 3 * time.Second, 3 * time.Second, false},
		{"verbose osqueryd", []string{"--verbose", "--socket", "/s", "--timeout", "10", "--interval", "0.5"}, -1, "/s", 10 * time.Second, 500 * time.Millisecond, true},
		{"equals form", []string{"--socket=/s", "--timeout=2s"}, -1, "/s", 2 * time.Second, 3 * time.Second, false},
		{"no socket", []string{"--timeout", "3"}, exitUsage, "", 0, 0, false},
		{"unknown flag", []string{"--socket", "/s", "--bogus"}, exitUsage, "", 0, 0, false},
		{"bad timeout", []string{"--socket", "/s", "--timeout", "soon"}, exitUsage, "", 0, 0, false},
		{"stray argument", []string{"--socket", "/s", "extra"}, exitUsage, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			f, code := parseExtensionFlags(tt.args, stdio{err: &errOut})
			if code != tt.code {
				t.Fatalf("code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if code >= 0 {
				if errOut.Len() == 0 {
					t.Error("a refused invocation printed nothing")
				}
				return
			}
			if f.socket != tt.socket || f.timeout.d != tt.timeout || f.interval.d != tt.interval || f.verbose != tt.verbose {
				t.Errorf("parsed %+v, want socket %s timeout %s interval %s verbose %v", f, tt.socket, tt.timeout, tt.interval, tt.verbose)
			}
		})
	}
}

func TestExtensionBadSettingsFileExitsWithOneLine(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "osqdetect.conf")
	if err := os.WriteFile(conf, []byte("poll_interval = \"2 seconds\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSQDETECT_CONFIG", conf)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--socket", "/nonexistent/osquery.em", "--timeout", "1", "--interval", "1"}, stdio{out: &out, err: &errOut})
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d", code, exitFailure)
	}
	msg := strings.TrimSpace(errOut.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, conf+":1") || !strings.Contains(msg, "poll_interval") {
		t.Fatalf("stderr %q, want one line naming the file, line 1 and poll_interval", msg)
	}
}
