package osqcore

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osquery/osquery-go"
	"github.com/osquery/osquery-go/plugin/table"
)

// TestMain lets the test binary double as an autoloaded extension: with
// OSQCORE_TEST_EXTENSION=1 it parses osqueryd's extension flags and serves
// a table "launched" reporting its argv and OSQUERY_EXTENSION.
func TestMain(m *testing.M) {
	if os.Getenv("OSQCORE_TEST_EXTENSION") == "1" {
		os.Exit(runTestExtension(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runTestExtension(args []string) int {
	fs := flag.NewFlagSet("test-extension", flag.ContinueOnError)
	socket := fs.String("socket", "", "")
	timeout := fs.Int("timeout", 3, "")
	fs.Int("interval", 3, "")
	fs.Bool("verbose", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := osquery.NewExtensionManagerServer("launched_ext", *socket, osquery.ServerTimeout(time.Duration(*timeout)*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv.RegisterPlugin(table.NewPlugin("launched",
		[]table.ColumnDefinition{table.TextColumn("argv"), table.TextColumn("env_pid"), table.TextColumn("pid")},
		func(context.Context, table.QueryContext) ([]map[string]string, error) {
			return []map[string]string{{
				"argv":    strings.Join(os.Args[1:], " "),
				"env_pid": os.Getenv("OSQUERY_EXTENSION"),
				"pid":     fmt.Sprint(os.Getpid()),
			}}, nil
		}))
	if err := srv.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestLaunchExtensionLikeOsqueryd(t *testing.T) {
	core := startCore(t, Options{})
	ctx := testContext(t)
	cmd, err := core.LaunchExtension(ctx, os.Args[0], true, []string{"OSQCORE_TEST_EXTENSION=1"})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if _, err := core.WaitForExtension(ctx, "launched_ext"); err != nil {
		t.Fatal(err)
	}
	rows := mustQuery(t, core, "SELECT argv, env_pid, pid FROM launched")
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	wantArgv := "--verbose --socket " + core.Socket() + " --timeout 3 --interval 3"
	if rows[0]["argv"] != wantArgv {
		t.Errorf("argv %q, want %q", rows[0]["argv"], wantArgv)
	}
	pid := fmt.Sprint(cmd.Process.Pid)
	if rows[0]["pid"] != pid || rows[0]["env_pid"] != pid {
		t.Errorf("pid %s, OSQUERY_EXTENSION %s, want both %s", rows[0]["pid"], rows[0]["env_pid"], pid)
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := core.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("extension exited with %v after shutdown()", err)
		}
	case <-stopCtx.Done():
		t.Fatal("extension still running after the core stopped")
	}
}

func TestWaitForExtensionGivesUp(t *testing.T) {
	core := startCore(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := core.WaitForExtension(ctx, "never")
	if err == nil || !strings.Contains(err.Error(), `waiting for extension "never" to register`) {
		t.Errorf("error %v", err)
	}
}
