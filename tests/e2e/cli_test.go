package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// cliRun is one run of the real binary as a CLI command.
type cliRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

// startCLI starts the binary built by TestMain with args. The process is
// killed when the test ends.
func startCLI(t *testing.T, stdin *os.File, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{cmd: exec.Command(extBinary, args...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if stdin != nil {
		r.cmd.Stdin = stdin
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// exitCode waits up to timeout for the run to end and returns its exit
// code; a run still going then fails the test.
func (r *cliRun) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		t.Fatalf("%v still running after %s (stderr %q)", r.cmd.Args[1:], timeout, r.stderr.String())
	}
	return r.cmd.ProcessState.ExitCode()
}

func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A named pipe called x.toml in a rules directory: opening it for reading
// would wait for a writer forever. It is rejected by name instead.
func TestRulesValidateRejectsANamedPipe(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "x.toml"))
	for _, rules := range []string{dir, filepath.Join(dir, "x.toml")} {
		r := startCLI(t, nil, "rules", "validate", "--rules", rules)
		if code := r.exitCode(t, 20*time.Second); code != 2 {
			t.Errorf("rules validate --rules %s: exit %d, want 2", rules, code)
		}
		want := "rejected: " + filepath.Join(dir, "x.toml") + ": not a regular file (a named pipe)"
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("rules validate --rules %s printed %q, want %q", rules, r.stdout.String(), want)
		}
	}
}

// The minor rule checks, each named with file and line as a user runs them.
func TestRulesValidateNamesFileAndLine(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join("..", "..", "rules", "builtin", "defense_evasion_symlink_binary_to_writable_dir.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	edits := map[string][2]string{
		"window.toml":   {`value = "now-10d"`, `value = "ten days"`},
		"overflow.toml": {`value = "now-10d"`, `value = "now-106752d"`},
		"signals.toml":  {`max_signals = 100`, `max_signals = -1`},
		"nested.toml":   {`max_signals = 100`, `max_signals = 100` + "\nx = " + strings.Repeat("{a=", 4000) + "1" + strings.Repeat("}", 4000)},
	}
	for name, e := range edits {
		data := strings.Replace(string(seed), e[0], e[1], 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := startCLI(t, nil, "rules", "validate", "--no-builtin", "--rules", dir)
	if code := r.exitCode(t, 20*time.Second); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for name, want := range map[string]string{
		"window.toml":   `: line 79: rule.new_terms.history_window_start: "ten days" is not relative date math`,
		"overflow.toml": `: line 79: rule.new_terms.history_window_start: duration "106752d" overflows`,
		"signals.toml":  `: line 21: rule.max_signals: -1 is out of range`,
		"nested.toml":   `: line 22: nesting deeper than 10 levels`,
	} {
		line := "rejected: " + filepath.Join(dir, name) + want
		if !strings.Contains(r.stdout.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, r.stdout.String())
		}
	}
}

// SIGTERM ends every command promptly, also one blocked in a read that
// does not watch for cancellation (stdin that never closes, a named pipe
// without a writer).
func TestSIGTERMEndsEveryCommand(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, filepath.Join(dir, "events.json"))
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdinR.Close(); stdinW.Close() }) // after the parallel subtests
	for _, tt := range []struct {
		name  string
		stdin *os.File
		args  []string
	}{
		{"scan of stdin that never closes", stdinR, []string{"scan", "-"}},
		{"scan of a named pipe", nil, []string{"scan", fifo}},
		{"query of a named pipe", nil, []string{"query", "--lang", "kql", fifo, "process.name:x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startCLI(t, tt.stdin, tt.args...)
			time.Sleep(500 * time.Millisecond) // let it block
			if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			if code := r.exitCode(t, 15*time.Second); code != 1 {
				t.Errorf("exit %d after SIGTERM, want 1", code)
			}
			// Either the command noticed and wound down itself (scan drains
			// what it read and says where it stopped), or the grace ran out.
			if !strings.Contains(r.stderr.String(), "after terminated; exiting") &&
				!strings.Contains(r.stderr.String(), ": interrupted\n") {
				t.Errorf("stderr %q does not say why it exited", r.stderr.String())
			}
		})
	}
}

// A settings file that is a named pipe: reading it would wait for a writer
// forever before the extension ever reaches osquery. It is refused with
// one line, and osqueryd's watcher sees the exit.
func TestExtensionRefusesANamedPipeAsSettingsFile(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, filepath.Join(dir, "osqdetect.conf"))
	r := &cliRun{cmd: exec.Command(extBinary, "--socket", filepath.Join(dir, "osquery.em"), "--timeout", "3", "--interval", "3"), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "OSQDETECT_CONFIG="+fifo, "OSQDETECT_STATE_DIR="+filepath.Join(dir, "state"))
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	if code := r.exitCode(t, 15*time.Second); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := fifo + ": not a regular file (a named pipe)"; !strings.Contains(r.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", r.stderr.String(), want)
	}
}

// A named pipe in a rule_dirs directory: the extension still starts, runs
// the other rules, and detection_rules names the rejected file.
func TestRuleDirsWithANamedPipe(t *testing.T) {
	h := newHost(t)
	rules := filepath.Join(h.dir, "rules")
	if err := os.Mkdir(rules, 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := mkfifo(t, filepath.Join(rules, "x.toml"))
	conf := "poll_interval = \"200ms\"\nrule_dirs = [\"" + rules + "\"]\n"
	if err := os.WriteFile(h.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()
	rows := h.mustQuery("SELECT source, enabled, error FROM detection_rules WHERE source = '" + fifo + "'")
	if len(rows) != 1 || !strings.Contains(rows[0]["error"], "not a regular file (a named pipe)") {
		t.Fatalf("detection_rules for %s: %v, want the named pipe rejected", fifo, rows)
	}
	if n := len(h.mustQuery("SELECT rule_id FROM detection_rules WHERE enabled = 1")); n != 2 {
		t.Errorf("%d rules enabled, want the 2 bundled ones", n)
	}
}
