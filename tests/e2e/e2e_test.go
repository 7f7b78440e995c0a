// Package e2e runs the real osqdetect.ext binary under the osquery core
// stand-in (tests/osqcore), launched exactly as osqueryd's autoloader does,
// and checks what a user would see through osquery SQL.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// extBinary is the extension built once by TestMain.
var extBinary string

const (
	symlinkRule      = "d19a2399-f8e2-4b10-80d8-a561ce9d24d1"
	reverseShellRule = "fa3a59dc-33c3-43bf-80a9-e8437a922c7f"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "osqdetect-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	extBinary = filepath.Join(dir, "osqdetect.ext")
	build := exec.Command("go", "build", "-o", extBinary, "./cmd/osqdetect")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building osqdetect.ext:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer keeps the core's and the extension's output, shown when a test
// fails (or always with -v).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// host is one simulated host: a core stand-in on a socket, a state
// directory and a settings file for the extension.
type host struct {
	t        *testing.T
	dir      string
	socket   string
	stateDir string
	config   string
	logs     *logBuffer
	core     *osqcore.Core
	hostUUID string
}

func newHost(t *testing.T) *host {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &host{t: t, dir: dir, socket: filepath.Join(dir, "osquery.em"), stateDir: filepath.Join(dir, "state"),
		config: filepath.Join(dir, "osqdetect.conf"), logs: &logBuffer{}, hostUUID: "6A4F1C52-0B7E-4D2A-9C1E-3F5B7D9E1A20"}
	conf := "poll_interval = \"200ms\"\nlog_level = \"debug\"\n"
	if err := os.WriteFile(h.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("core and extension output:\n%s", h.logs.String())
		}
	})
	return h
}

// startCore starts the stand-in (again) on the host's socket.
func (h *host) startCore(opts osqcore.Options) *osqcore.Core {
	h.t.Helper()
	opts.Socket = h.socket
	opts.HostUUID = h.hostUUID
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
	opts.ExtensionOutput = h.logs
	if opts.PingInterval == 0 {
		opts.PingInterval = 300 * time.Millisecond
	}
	core, err := osqcore.Start(context.Background(), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.core = core
	h.t.Cleanup(func() { h.stopCore(core) })
	return core
}

func (h *host) stopCore(core *osqcore.Core) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = core.Stop(ctx)
}

// extension is one launched osqdetect.ext process.
type extension struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// launch starts osqdetect.ext through the stand-in, as osqueryd would.
func (h *host) launch() *extension {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd, err := h.core.LaunchExtension(ctx, extBinary, false, []string{
		"OSQDETECT_CONFIG=" + h.config, "OSQDETECT_STATE_DIR=" + h.stateDir,
	})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	e := &extension{cmd: cmd, done: make(chan struct{}), cancel: cancel}
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-e.done
	})
	return e
}

// wait returns the extension's exit code, failing the test after timeout.
func (e *extension) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(timeout):
		t.Fatalf("extension still running after %s", timeout)
	}
	if e.err == nil {
		return 0
	}
	if ee, ok := e.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("waiting for the extension: %v", e.err)
	return -1
}

func (e *extension) kill9(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-e.done
}

func (h *host) waitRegistered() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.core.WaitForExtension(ctx, "osqdetect"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) query(sql string) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.core.Query(ctx, sql)
}

func (h *host) mustQuery(sql string) []map[string]string {
	h.t.Helper()
	rows, err := h.query(sql)
	if err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

// eventually polls cond until it returns "" or the deadline passes; cond
// returns what is still missing.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var missing string
	for {
		if missing = cond(); missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %s", timeout, missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// health reads detection_health into subject/metric -> value.
func (h *host) health() (map[string]string, error) {
	rows, err := h.query("SELECT component, subject, metric, value, status, detail FROM detection_health")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		key := r["component"] + "/" + r["subject"] + "/" + r["metric"]
		out[key] = r["value"]
		out[key+"#status"] = r["status"]
		out[key+"#detail"] = r["detail"]
	}
	return out, nil
}

// delivered is the durable number of event rows handed to the engine.
func (h *host) delivered() (int, error) {
	hl, err := h.health()
	if err != nil {
		return 0, err
	}
	p, _ := strconv.Atoi(hl["source/process_events/rows_delivered"])
	s, _ := strconv.Atoi(hl["source/socket_events/rows_delivered"])
	return p + s, nil
}

// waitDelivered waits until exactly want rows have reached the engine.
func (h *host) waitDelivered(want int) {
	h.t.Helper()
	eventually(h.t, 20*time.Second, func() string {
		n, err := h.delivered()
		if err != nil {
			return err.Error()
		}
		if n != want {
			return fmt.Sprintf("rows delivered %d, want %d", n, want)
		}
		return ""
	})
}

func loadScenario(t *testing.T, name string) []osqcore.ScenarioStep {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "scenarios", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	steps, err := osqcore.ParseScenario(f)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// replay injects steps without their recorded delays (batching follows the
// file: consecutive rows of one table form one batch) and returns how many
// event rows were stored.
// replayDemoExpectingSeedAlerts replays the demo scenario, waits until the
// extension has read every row, and fails unless the alerts table holds
// exactly the two seed alerts. It returns the number of rows injected.
func (h *host) replayDemoExpectingSeedAlerts() int {
	h.t.Helper()
	injected := h.replay(loadScenario(h.t, "demo.jsonl"))
	h.waitDelivered(injected)
	got, err := h.alerts()
	if err != nil {
		h.t.Fatal(err)
	}
	if !alertsEqual(got, demoAlerts) {
		h.t.Fatalf("alerts %+v, want %+v", got, demoAlerts)
	}
	return injected
}

func (h *host) replay(steps []osqcore.ScenarioStep) int {
	h.t.Helper()
	fast := make([]osqcore.ScenarioStep, len(steps))
	copy(fast, steps)
	for i := range fast {
		if fast[i].DelayMS > 0 {
			fast[i].DelayMS = 1 // keeps the batch boundaries, drops the waiting
		}
	}
	stored := 0
	err := h.core.Replay(context.Background(), fast, func(step osqcore.ScenarioStep, n int) {
		if step.Table != "processes" {
			stored += n
		}
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return stored
}

type alertRow struct{ rule, pid, exe, dest string }

func (h *host) alerts() ([]alertRow, error) {
	rows, err := h.query("SELECT id, rule_id, pid, process_executable, destination_ip FROM alerts")
	if err != nil {
		return nil, err
	}
	var out []alertRow
	for _, r := range rows {
		out = append(out, alertRow{r["rule_id"], r["pid"], r["process_executable"], r["destination_ip"]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rule < out[j].rule })
	return out, nil
}

var demoAlerts = []alertRow{
	{rule: symlinkRule, pid: "3101", exe: "/usr/bin/ln"},
	{rule: reverseShellRule, pid: "3201", exe: "/tmp/x", dest: "203.0.113.50"},
}

func alertsEqual(got, want []alertRow) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestDemoScenarioRaisesExactlyTheSeedAlerts(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()

	injected := h.replayDemoExpectingSeedAlerts()

	rules := h.mustQuery("SELECT rule_id, enabled, alerts, error FROM detection_rules ORDER BY rule_id")
	if len(rules) != 2 {
		t.Fatalf("detection_rules has %d rows, want the 2 bundled rules: %v", len(rules), rules)
	}
	for _, r := range rules {
		if r["enabled"] != "1" || r["alerts"] != "1" {
			t.Errorf("rule %s: enabled %s alerts %s, want 1 and 1", r["rule_id"], r["enabled"], r["alerts"])
		}
	}

	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"extension//registered":                       "1",
		"source/process_events/events_enabled":        "1",
		"source/socket_events/events_enabled":         "1",
		"engine//alerts_emitted":                      "2",
		"engine//events_processed":                    strconv.Itoa(injected),
		"engine//rules_enabled":                       "2",
		"store//alerts":                               "2",
		"source/process_events/rows_malformed":        "0",
		"extension//host_id":                          h.hostUUID,
		"source/process_events/errors":                "0",
		"source/socket_events/errors":                 "0",
		"engine//rows_rejected":                       "0",
		"store//commit_errors":                        "0",
		"extension//registrations":                    "1",
		"source/socket_events/rows_malformed":         "0",
		"source/process_events/events_enabled#status": "ok",
	} {
		if hl[key] != want {
			t.Errorf("detection_health %s = %q, want %q", key, hl[key], want)
		}
	}
}

func TestWhereTimeIsPushedDownToTheAlertsTable(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()
	h.mustQuery("SELECT id FROM alerts WHERE time > 1700000000")
	call, ok := h.core.LastGenerateCall("alerts")
	if !ok {
		t.Fatal("the core never called the extension's alerts table")
	}
	var found bool
	for _, c := range call.Parsed.Constraints["time"] {
		if c.Op == osqcore.OpGreaterThan && c.Expr == "1700000000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("generate context %s does not carry time > 1700000000", call.Context)
	}
}

// kill -9 mid-stream, then start again: every event reaches the engine
// exactly once and every alert exists exactly once.
func TestKillNineAndRestartLosesAndDuplicatesNothing(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	ext := h.launch()
	h.waitRegistered()

	steps := loadScenario(t, "demo.jsonl")
	// First part: everything before the reverse shell. (Its three events
	// must fall within the rule's 1s maxspan, so they are not split.)
	cut := 0
	for i, s := range steps {
		if s.Row["cmdline"] == "bash -c cd /tmp && ./x" {
			cut = i
			break
		}
	}
	if cut == 0 {
		t.Fatal("scenario lost its reverse shell")
	}
	first := h.replay(steps[:cut])
	h.waitDelivered(first)
	// The rest arrives, and the extension dies before it has read it all
	// (the newest seconds are held back for at least a second).
	second := h.replay(steps[cut:])
	ext.kill9(t)
	// osqueryd notices the dead extension at its next ping and drops it.
	eventually(t, 10*time.Second, func() string {
		for _, e := range h.core.Extensions() {
			if e.Name == "osqdetect" {
				return "the killed extension is still registered"
			}
		}
		return ""
	})
	h.launch()
	h.waitRegistered()
	h.waitDelivered(first + second)

	got, err := h.alerts()
	if err != nil {
		t.Fatal(err)
	}
	if !alertsEqual(got, demoAlerts) {
		t.Fatalf("alerts after kill -9 and restart %+v, want %+v", got, demoAlerts)
	}
	// Nothing was read twice: the durable counter equals what was injected,
	// and stays so.
	if n, err := h.delivered(); err != nil || n != first+second {
		t.Fatalf("rows delivered %d (%v), want %d", n, err, first+second)
	}
}

// Restarting the launched extension right after it was killed, before
// osqueryd dropped it, must still end registered.
func TestRestartBeforeOsqueryNoticedTheDeath(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{PingInterval: 2 * time.Second})
	ext := h.launch()
	h.waitRegistered()
	ext.kill9(t)
	h.launch() // the old registration is still there: "duplicate extension"
	// WaitForExtension wants a registered osqdetect that answers pings and
	// queries: the dead one never does, so this is the new one.
	h.waitRegistered()
}

func TestDroppedByOsqueryRegistersAgain(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()
	if !h.core.DropExtension("osqdetect") {
		t.Fatal("extension was not registered")
	}
	if _, err := h.query("SELECT * FROM alerts"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("alerts after the drop: %v, want no such table", err)
	}
	h.waitRegistered()
	eventually(t, 10*time.Second, func() string {
		hl, err := h.health()
		if err != nil {
			return err.Error()
		}
		if hl["extension//registrations"] != "2" || hl["extension//registered"] != "1" {
			return fmt.Sprintf("registrations %s registered %s", hl["extension//registrations"], hl["extension//registered"])
		}
		return ""
	})
}

// osqueryd's worker restarts: the socket disappears without a shutdown
// call and comes back. The extension reconnects, registers again and
// reads on from its cursor.
func TestCoreRestartIsSurvived(t *testing.T) {
	h := newHost(t)
	core := h.startCore(osqcore.Options{})
	ext := h.launch()
	h.waitRegistered()
	steps := loadScenario(t, "demo.jsonl")
	first := h.replay(steps[:10])
	h.waitDelivered(first)

	// A crash sends no shutdown(): take the extension off the books first
	// so Stop does not call it, then remove the socket.
	core.DropExtension("osqdetect")
	h.stopCore(core)
	if _, err := os.Stat(h.socket); err == nil {
		t.Fatal("socket still exists after the core stopped")
	}
	select {
	case <-ext.done:
		t.Fatalf("extension exited (%v) while osquery was briefly away", ext.err)
	case <-time.After(time.Second):
	}

	h.startCore(osqcore.Options{})
	h.waitRegistered()
	// The new core's event buffer is empty (its eids restart), and the
	// cursor is time-based, so new events are read.
	second := h.replay(steps[10:])
	h.waitDelivered(first + second)
	got, err := h.alerts()
	if err != nil {
		t.Fatal(err)
	}
	if !alertsEqual(got, demoAlerts) {
		t.Fatalf("alerts %+v, want %+v", got, demoAlerts)
	}
}

func TestShutdownCallExitsCleanly(t *testing.T) {
	h := newHost(t)
	core := h.startCore(osqcore.Options{})
	ext := h.launch()
	h.waitRegistered()
	h.stopCore(core) // sends shutdown() like osqueryd stopping
	if code := ext.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d after osquery's shutdown call, want 0", code)
	}
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	ext := h.launch()
	h.waitRegistered()
	if err := ext.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := ext.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	eventually(t, 5*time.Second, func() string {
		for _, e := range h.core.Extensions() {
			if e.Name == "osqdetect" {
				return "still registered after SIGTERM"
			}
		}
		return ""
	})
}

func TestDisabledEventsAreReported(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{EventsDisabled: true})
	h.launch()
	h.waitRegistered()
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"process_events", "socket_events"} {
		key := "source/" + table + "/events_enabled"
		if hl[key] != "0" || hl[key+"#status"] != "error" || !strings.Contains(hl[key+"#detail"], "--disable_events=false") {
			t.Errorf("%s: value %q status %q detail %q, want 0, error and the flag to change",
				key, hl[key], hl[key+"#status"], hl[key+"#detail"])
		}
	}
}

func TestAuditSocketsOffIsReported(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{Flags: map[string]string{"audit_allow_sockets": "false"}})
	h.launch()
	h.waitRegistered()
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	if hl["source/process_events/events_enabled"] != "1" {
		t.Errorf("process_events reported disabled: %q", hl["source/process_events/events_enabled#detail"])
	}
	if d := hl["source/socket_events/events_enabled#detail"]; hl["source/socket_events/events_enabled"] != "0" || !strings.Contains(d, "--audit_allow_sockets=true") {
		t.Errorf("socket_events: %q (%s), want disabled naming --audit_allow_sockets=true", hl["source/socket_events/events_enabled"], d)
	}
}

// A row the normalizer cannot use (no pid) is counted with its reason and
// skipped; the rows around it still work.
func TestMalformedRowsAreCountedAndSkipped(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()
	rows := []map[string]string{
		{"pid": "", "parent": "1", "path": "/usr/bin/true", "cmdline": "true", "syscall": "execve"},
		{"pid": "77", "parent": "1", "path": "/usr/bin/id", "cmdline": "id", "syscall": "execve"},
	}
	if _, err := h.core.InjectProcessEvents(rows...); err != nil {
		t.Fatal(err)
	}
	h.waitDelivered(2)
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	if hl["engine//rows_rejected"] != "1" || !strings.Contains(hl["engine//rows_rejected#detail"], "pid") {
		t.Fatalf("rows_rejected %q detail %q, want 1 naming pid", hl["engine//rows_rejected"], hl["engine//rows_rejected#detail"])
	}
	if hl["engine//events_processed"] != "1" {
		t.Fatalf("events_processed %q, want the 1 good row", hl["engine//events_processed"])
	}
}

// osqueryd restarts with a wiped (or ephemeral) database: its eid counters
// start again near 1 (research/osquery.md §2.7), so the same eids now name
// different events. The reverse shell happens again after the restart; its
// alert must be a new one, not overwrite the first (alert ids are built from
// what the events are, not from the eids alone). The new-terms symlink rule
// has seen its term already and stays quiet.
func TestCoreRestartWithEIDsStartingAgainKeepsOlderAlerts(t *testing.T) {
	h := newHost(t)
	core := h.startCore(osqcore.Options{})
	ext := h.launch()
	h.waitRegistered()
	steps := loadScenario(t, "demo.jsonl")
	first := h.replay(steps)
	h.waitDelivered(first)
	before := h.mustQuery("SELECT id, rule_id, time FROM alerts")
	if len(before) != 2 {
		t.Fatalf("alerts before the restart: %v, want 2", before)
	}

	core.DropExtension("osqdetect")
	h.stopCore(core)
	time.Sleep(1100 * time.Millisecond) // the new core's batches get later seconds
	h.startCore(osqcore.Options{})
	h.waitRegistered()
	second := h.replay(steps) // same rows, same eids, later time
	h.waitDelivered(first + second)
	select {
	case <-ext.done:
		t.Fatalf("extension exited: %v", ext.err)
	default:
	}

	after := h.mustQuery("SELECT id, rule_id, time FROM alerts")
	ids := map[string]map[string]string{}
	for _, r := range after {
		ids[r["id"]] = r
	}
	for _, old := range before {
		got, ok := ids[old["id"]]
		if !ok || got["time"] != old["time"] {
			t.Errorf("alert %s (rule %s, time %s) was overwritten or lost after the core restart: %v", old["id"], old["rule_id"], old["time"], after)
		}
	}
	shells := 0
	for _, r := range after {
		if r["rule_id"] == reverseShellRule {
			shells++
		}
	}
	if len(after) != 3 || shells != 2 {
		t.Fatalf("alerts after the restart: %v, want the 2 older ones and a second reverse shell", after)
	}
}

// SQLite does not tell a virtual table the collation of a comparison:
// `severity = 'MEDIUM' COLLATE NOCASE` reaches the extension as
// severity = "MEDIUM". The pushed-down filter must still return every row
// SQLite then keeps (sqlite.org/datatype3.html#collation: NOCASE folds
// ASCII case, RTRIM ignores trailing spaces).
func TestCollatedEqualityIsNotFilteredAway(t *testing.T) {
	h := newHost(t)
	h.startCore(osqcore.Options{})
	h.launch()
	h.waitRegistered()
	h.waitDelivered(h.replay(loadScenario(t, "demo.jsonl")))
	all := h.mustQuery("SELECT id, rule_id, severity FROM alerts WHERE rule_id = '" + reverseShellRule + "'")
	if len(all) != 1 {
		t.Fatalf("reverse shell alerts: %v", all)
	}
	shell := all[0]
	for _, sql := range []string{
		"SELECT id FROM alerts WHERE severity = '" + strings.ToUpper(shell["severity"]) + "' COLLATE NOCASE",
		"SELECT id FROM alerts WHERE severity = '" + shell["severity"] + "   ' COLLATE RTRIM",
		"SELECT id FROM alerts WHERE id = '" + strings.ToUpper(shell["id"]) + "' COLLATE NOCASE",
		"SELECT id FROM alerts WHERE rule_id = '" + strings.ToUpper(reverseShellRule) + "' COLLATE NOCASE",
		"SELECT id FROM alerts WHERE upper(rule_id) = '" + strings.ToUpper(reverseShellRule) + "'",
	} {
		rows := h.mustQuery(sql)
		if len(rows) != 1 || rows[0]["id"] != shell["id"] {
			t.Errorf("%s: %v, want the reverse shell alert %s", sql, rows, shell["id"])
		}
	}
	// Case still matters where the query says so.
	if rows := h.mustQuery("SELECT id FROM alerts WHERE severity = '" + strings.ToUpper(shell["severity"]) + "'"); len(rows) != 0 {
		t.Errorf("binary comparison matched %v", rows)
	}
}
