package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osquery/osquery-go"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

// With OSQCORE_CMD_TEST_EXTENSION=1 the test binary is an extension whose
// table "seen_execs" reads process_events back from the core, the way the
// detection extension polls. With OSQCORE_CMD_TEST_CRASH_ONCE=<file> its
// first run exits at once (and creates the file), to exercise respawning.
func TestMain(m *testing.M) {
	if os.Getenv("OSQCORE_CMD_TEST_EXTENSION") == "1" {
		os.Exit(testExtension(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func testExtension(args []string) int {
	if marker := os.Getenv("OSQCORE_CMD_TEST_CRASH_ONCE"); marker != "" {
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, []byte("crashed"), 0o600)
			return 3
		}
	}
	fs := flag.NewFlagSet("ext", flag.ContinueOnError)
	socket := fs.String("socket", "", "")
	fs.Int("timeout", 3, "")
	fs.Int("interval", 3, "")
	fs.Bool("verbose", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	client, err := osquery.NewClient(*socket, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := osquery.NewExtensionManagerServer("cmd_test_ext", *socket, osquery.ServerTimeout(10*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv.RegisterPlugin(table.NewPlugin("seen_execs",
		[]table.ColumnDefinition{table.BigIntColumn("pid"), table.TextColumn("path"), table.TextColumn("eid")},
		func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return client.QueryRowsContext(ctx, "SELECT pid, path, eid FROM process_events WHERE time >= 0")
		}))
	if err := srv.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func socketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "osqc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "osquery.em")
}

func TestReplayAndQuery(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"--socket", socketPath(t), "--replay", "testdata/scenario.jsonl", "--settle", "0",
		"--query", "SELECT e.eid, e.pid, e.path, p.name AS parent FROM process_events e LEFT JOIN processes p ON p.pid = e.parent ORDER BY e.eid",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	testutil.Golden(t, filepath.Join("testdata", "replay_query.golden"), stdout.Bytes())
	if !strings.Contains(stderr.String(), "replay done") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestExtensionEndToEnd(t *testing.T) {
	t.Setenv("OSQCORE_CMD_TEST_EXTENSION", "1")
	t.Setenv("OSQCORE_CMD_TEST_CRASH_ONCE", filepath.Join(t.TempDir(), "crashed"))
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, []string{
		"--socket", socketPath(t), "--extension", os.Args[0], "--wait-for", "cmd_test_ext",
		"--replay", "testdata/scenario.jsonl", "--settle", "0", "--ping-interval", "500ms",
		"--query", "SELECT pid, path, eid FROM seen_execs ORDER BY eid",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	testutil.Golden(t, filepath.Join("testdata", "extension_query.golden"), stdout.Bytes())
	log := stderr.String()
	for _, want := range []string{"extension exited; respawning", "extension ready", "deregistered extension"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"table\":\"process_events\",\"row\":{\"pid\":\"1\"}}\n{\"table\":\"proc_events\",\"row\":{}}\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no socket", []string{"--query", "SELECT 1"}, 2, "--socket is required"},
		{"stray argument", []string{"--socket", "/tmp/x.em", "extra"}, 2, "unexpected arguments: extra"},
		{"bad scenario", []string{"--socket", socketPath(t), "--replay", bad}, 1, `bad.jsonl: scenario line 2: unknown table "proc_events"`},
		{"bad query", []string{"--socket", socketPath(t), "--settle", "0", "--query", "SELECT * FROM nope"}, 1, "query failed: no such table: nope"},
		{"bad flag override", []string{"--socket", socketPath(t), "--flag", "events_expiry=soon"}, 1, `flag events_expiry: "soon" is not an unsigned integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.code, stderr.String(), tc.msg)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, []string{"name", "n"}, []map[string]string{{"name": "héllo", "n": "1"}, {"name": "x", "n": "1234"}})
	want := `+-------+------+
| name  | n    |
+-------+------+
| héllo | 1    |
| x     | 1234 |
+-------+------+
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
