package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

// Crash-equivalence: a kill at any moment changes nothing. The crash
// scenario (tests/scenarios/crash.jsonl: both seed attacks in benign noise,
// reverse shells whose parent shell exits at once and whose steps straddle
// polls, a new term and a repeated one) is replayed in real time into the
// osquery stand-in while the real osqdetect.ext runs under a supervisor that
// restarts it whenever it dies, as osqueryd's watcher does. One
// uninterrupted run gives the reference alerts; every other run, killed
// with SIGKILL at poll boundaries, inside commits or from outside, must end
// with exactly those alerts (same content; the ids follow the events'
// times, which follow each run's clock), no id twice, none raised twice
// (the durable alerts_emitted counter equals the reference's), and
// every event row handed to the engine exactly once (the durable
// rows_delivered and events_processed counters equal the rows injected).
//
// The long loop (every commit of the scenario, several delays inside a
// commit, kills from outside) runs with OSQDETECT_CRASH_LONG=1 (make
// crash); make test runs the reference and three disturbed runs.

// crashSpeed scales the scenario's delays (the reverse shell's steps stay
// within its 1 s maxspan, and gaps stay longer than the 200 ms poll
// interval, so sequences still straddle polls).
const crashSpeed = 0.6

// crashAlert is an alert's identity and content, without the times that
// follow the wall clock of the run.
type crashAlert struct {
	id, rule, pid, exe, cmdline, parentPid, parentName, user, dest, port string
}

func (a crashAlert) String() string {
	return fmt.Sprintf("{%s %s pid=%s %s parent=%s/%s dest=%s:%s}", a.id, a.rule[:8], a.pid, a.exe, a.parentPid, a.parentName, a.dest, a.port)
}

// crashExpected are the alerts the scenario must raise (the reference run
// is checked against them, so that it cannot drift into agreeing with a
// broken run).
var crashExpected = []struct{ rule, pid, parentName string }{
	{symlinkRule, "3101", "kworkerd"},
	{reverseShellRule, "3201", "bash"},
	{reverseShellRule, "3301", "dash"},
	{symlinkRule, "3401", "bash"},
}

// crashPlan says how one run is disturbed.
type crashPlan struct {
	// faults are OSQDETECT_FAULT_KILL_IN_COMMIT values for the extension's
	// successive lives while the scenario is being replayed; the last one
	// repeats. Empty: no injected fault.
	faults []string
	// kills are moments (from the replay's start) at which the running
	// extension is sent SIGKILL from outside.
	kills []time.Duration
	// killAfter lists scenario step counts after which the run waits
	// until the extension has handed every row injected so far to the
	// engine, then kills it with SIGKILL (a kill right after a poll's
	// commit).
	killAfter []int
	// respawnDelay is how long the supervisor waits before starting the
	// extension again (osqueryd's watcher checks its children every few
	// seconds); the scenario goes on meanwhile.
	respawnDelay time.Duration
	// coreRestartAfter, when > 0, restarts the osquery core (a crash: no
	// shutdown call) after that many scenario steps.
	coreRestartAfter int
	// cacheSize, when > 0, bounds the process cache (process_cache_size)
	// so that the scenario evicts entries: a restarted cache must evict
	// the same ones.
	cacheSize int
}

// crashResult is what a run ends with.
type crashResult struct {
	alerts    []crashAlert
	injected  int
	delivered int
	processed string
	emitted   string
	lives     int
	durable   string // detection_health store/durable
	restored  string // detection_health store/state_restored
}

// supervisor restarts the extension whenever it exits, like osqueryd's
// watcher, with the fault plan's environment for each life.
type supervisor struct {
	h        *host
	plan     crashPlan
	replayed atomic.Bool // the scenario is fully injected: lives from now on run clean
	lives    atomic.Int32
	mu       sync.Mutex
	cur      *exec.Cmd
	stop     chan struct{}
	done     chan struct{}
}

func (s *supervisor) run() {
	defer close(s.done)
	for life := 0; ; life++ {
		if life > 0 {
			select {
			case <-s.stop:
				return
			case <-time.After(max(s.plan.respawnDelay, 50*time.Millisecond)):
			}
		}
		env := []string{"OSQDETECT_CONFIG=" + s.h.config, "OSQDETECT_STATE_DIR=" + s.h.stateDir}
		if len(s.plan.faults) > 0 && !s.replayed.Load() {
			f := s.plan.faults[min(life, len(s.plan.faults)-1)]
			if f != "" {
				env = append(env, "OSQDETECT_FAULT_KILL_IN_COMMIT="+f)
			}
		}
		s.mu.Lock()
		core := s.h.core
		s.mu.Unlock()
		cmd, err := core.LaunchExtension(context.Background(), extBinary, false, env)
		if err != nil {
			// The core is restarting: try again shortly.
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		s.lives.Add(1)
		s.mu.Lock()
		s.cur = cmd
		s.mu.Unlock()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-s.stop:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			return
		case <-exited:
		}
	}
}

// kill sends SIGKILL to the running life, if any.
func (s *supervisor) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.Process != nil {
		_ = s.cur.Process.Signal(syscall.SIGKILL)
	}
}

// runCrashScenario replays the crash scenario under plan and returns what
// the run ended with.
func runCrashScenario(t *testing.T, plan crashPlan) crashResult {
	t.Helper()
	h := newHost(t)
	if plan.cacheSize > 0 {
		conf := fmt.Sprintf("poll_interval = \"200ms\"\nlog_level = \"debug\"\n[engine]\nprocess_cache_size = %d\n", plan.cacheSize)
		if err := os.WriteFile(h.config, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	machine := osqcore.NewMachine()
	h.startCore(osqcore.Options{Machine: machine})
	steps := loadScenario(t, "crash.jsonl")
	for i := range steps {
		steps[i].DelayMS = int(float64(steps[i].DelayMS) * crashSpeed)
	}
	// The processes running before osquery started are there when the
	// extension first starts, in every run alike.
	first := 0
	for first < len(steps) && steps[first].Table == "processes" {
		first++
	}
	if err := h.core.Replay(context.Background(), steps[:first], nil); err != nil {
		t.Fatal(err)
	}

	sup := &supervisor{h: h, plan: plan, stop: make(chan struct{}), done: make(chan struct{})}
	go sup.run()
	stopped := false
	stopSupervisor := func() {
		if !stopped {
			stopped = true
			close(sup.stop)
			<-sup.done
		}
	}
	t.Cleanup(stopSupervisor)
	h.waitRegistered()

	start := time.Now()
	var killers sync.WaitGroup
	for _, at := range plan.kills {
		killers.Add(1)
		go func() {
			defer killers.Done()
			time.Sleep(time.Until(start.Add(at)))
			sup.kill()
		}()
	}

	injected := 0
	count := func(step osqcore.ScenarioStep, n int) {
		if step.Table == "process_events" || step.Table == "socket_events" {
			injected += n
		}
	}
	rest := steps[first:]
	done := 0
	replayTo := func(k int) {
		if err := h.core.Replay(context.Background(), rest[done:k], count); err != nil {
			t.Fatal(err)
		}
		done = k
	}
	for _, k := range plan.killAfter {
		replayTo(k)
		h.waitDelivered(injected)
		sup.kill()
	}
	if k := plan.coreRestartAfter; k > 0 && k < len(rest) {
		replayTo(k)
		// A crash of osqueryd's worker: no shutdown call, the socket goes,
		// and osqueryd comes up again on the same host: its RocksDB keeps
		// the buffered events and eids, the processes keep running.
		old := h.core
		old.DropExtension("osqdetect")
		h.stopCore(old)
		sup.mu.Lock()
		h.startCore(osqcore.Options{Machine: machine})
		sup.mu.Unlock()
	}
	replayTo(len(rest))
	killers.Wait()
	sup.replayed.Store(true)
	// A life still armed with a fault may die once more; the next is clean.
	eventually(t, 90*time.Second, func() string {
		n, err := h.delivered()
		if err != nil {
			return err.Error()
		}
		if n < injected {
			return fmt.Sprintf("rows delivered %d of %d", n, injected)
		}
		return ""
	})
	var res crashResult
	res.injected = injected
	hl, err := h.health()
	if err != nil {
		t.Fatal(err)
	}
	res.delivered, _ = h.delivered()
	res.processed = hl["engine//events_processed"]
	res.emitted = hl["engine//alerts_emitted"]
	res.durable, res.restored = hl["store//durable"], hl["store//state_restored"]
	rows := h.mustQuery("SELECT id, rule_id, pid, process_executable, process_command_line, parent_pid, parent_name, user_id, destination_ip, destination_port FROM alerts")
	for _, r := range rows {
		res.alerts = append(res.alerts, crashAlert{r["id"], r["rule_id"], r["pid"], r["process_executable"], r["process_command_line"],
			r["parent_pid"], r["parent_name"], r["user_id"], r["destination_ip"], r["destination_port"]})
	}
	sort.Slice(res.alerts, func(i, j int) bool { return res.alerts[i].id < res.alerts[j].id })
	res.lives = int(sup.lives.Load())
	stopSupervisor()
	return res
}

var (
	referenceOnce sync.Once
	reference     crashResult
	referenceErr  string

	smallRefOnce sync.Once
	smallRef     crashResult
)

// smallCacheSize is the process cache bound of the eviction runs: the
// scenario's 60 processes do not fit.
const smallCacheSize = 24

// crashReferenceSmallCache is the uninterrupted run with a process cache
// too small for the scenario.
func crashReferenceSmallCache(t *testing.T) crashResult {
	t.Helper()
	smallRefOnce.Do(func() { smallRef = runCrashScenario(t, crashPlan{cacheSize: smallCacheSize}) })
	if smallRef.lives != 1 || smallRef.delivered != smallRef.injected {
		t.Fatalf("no usable small-cache reference: %d lives, %d of %d rows", smallRef.lives, smallRef.delivered, smallRef.injected)
	}
	return smallRef
}

// crashReference is the uninterrupted run, computed once per test binary.
func crashReference(t *testing.T) crashResult {
	t.Helper()
	referenceOnce.Do(func() {
		func() {
			reference = runCrashScenario(t, crashPlan{})
			var got []string
			for _, a := range reference.alerts {
				got = append(got, a.rule+"/"+a.pid+"/"+a.parentName)
			}
			var want []string
			for _, e := range crashExpected {
				want = append(want, e.rule+"/"+e.pid+"/"+e.parentName)
			}
			sort.Strings(got)
			sort.Strings(want)
			switch {
			case !slices.Equal(got, want):
				referenceErr = fmt.Sprintf("reference run alerts %v, want %v", got, want)
			case reference.lives != 1:
				referenceErr = fmt.Sprintf("reference run had %d lives, want 1", reference.lives)
			case reference.delivered != reference.injected || reference.processed != strconv.Itoa(reference.injected):
				referenceErr = fmt.Sprintf("reference run: injected %d, delivered %d, processed %s", reference.injected, reference.delivered, reference.processed)
			}
		}()
	})
	if referenceErr != "" || len(reference.alerts) == 0 {
		t.Fatalf("no usable reference: %s", referenceErr)
	}
	return reference
}

// checkCrashRun asserts a disturbed run ended exactly like the reference.
func checkCrashRun(t *testing.T, ref, got crashResult, minLives int) {
	t.Helper()
	if got.lives < minLives {
		t.Errorf("the extension lived %d times, want at least %d: the run was not disturbed as planned", got.lives, minLives)
	}
	ids := map[string]bool{}
	for _, a := range got.alerts {
		if ids[a.id] {
			t.Errorf("alert id %s twice", a.id)
		}
		ids[a.id] = true
	}
	// Alert ids derive from the matched events, their times included, and
	// event times follow the wall clock of each run: ids are compared
	// within a run (none twice), content across runs.
	norm := func(as []crashAlert) []string {
		var out []string
		for _, a := range as {
			a.id = "-"
			out = append(out, a.String())
		}
		sort.Strings(out)
		return out
	}
	if w, g := norm(ref.alerts), norm(got.alerts); !slices.Equal(w, g) {
		t.Errorf("alerts differ from the reference run:\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	if got.delivered != got.injected {
		t.Errorf("rows delivered %d, injected %d: an event was read twice or lost", got.delivered, got.injected)
	}
	if got.processed != strconv.Itoa(got.injected) {
		t.Errorf("engine events processed %s, injected %d: an event was processed twice or lost", got.processed, got.injected)
	}
	if !strings.Contains(got.durable, "process cache") || got.restored != "1" {
		t.Errorf("detection_health store durable %q, state_restored %q: want what survives, and a whole restore", got.durable, got.restored)
	}
	if got.emitted != ref.emitted {
		t.Errorf("engine alerts emitted %s, reference %s: an alert was raised twice", got.emitted, ref.emitted)
	}
}

func TestCrashEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time scenario runs")
	}
	ref := crashReference(t)
	long := os.Getenv("OSQDETECT_CRASH_LONG") != ""
	plans := map[string]struct {
		plan     crashPlan
		minLives int
		long     bool // only in the long run (make crash)
	}{
		// Killed inside the commit of every other poll of every life: the
		// extension dies over and over, each life keeping one page.
		"killed in every second commit": {crashPlan{faults: []string{"2"}}, 4, true},
		// Killed while bbolt writes and syncs a commit's pages.
		"killed while a commit is written": {crashPlan{faults: []string{"5:300us", "3:1ms", "4:50us"}}, 4, false},
		// SIGKILL from outside at moments unrelated to polling, among them
		// inside the short-lived parent's attack.
		"killed from outside": {crashPlan{kills: []time.Duration{2 * time.Second, 6 * time.Second, 9 * time.Second, 10500 * time.Millisecond}}, 3, true},
		// Killed right after the commits that hold a short-lived parent's
		// exec, before its child's exec (the parent exits before the child
		// is read, so a restart cannot learn it from processes).
		"killed after short-lived parents": {crashPlan{killAfter: []int{48, 54}, respawnDelay: 1500 * time.Millisecond}, 3, false},
		// osqueryd restarts instead, while the short-lived parent's
		// reverse shell is under way.
		"core restarts": {crashPlan{coreRestartAfter: 50}, 1, false},
	}
	names := make([]string, 0, len(plans))
	for name := range plans {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := plans[name]
		t.Run(name, func(t *testing.T) {
			if p.long && !long {
				t.Skip("in the long run: OSQDETECT_CRASH_LONG=1 (make crash)")
			}
			got := runCrashScenario(t, p.plan)
			checkCrashRun(t, ref, got, p.minLives)
		})
	}
}

// TestCrashAtEveryCommit kills the extension inside its Nth commit, for
// every N the scenario reaches, then with delays that land the kill while
// the commit is being written: every poll boundary of the scenario.
func TestCrashAtEveryCommit(t *testing.T) {
	if os.Getenv("OSQDETECT_CRASH_LONG") == "" {
		t.Skip("the long kill loop: OSQDETECT_CRASH_LONG=1 (make crash)")
	}
	ref := crashReference(t)
	maxCommit := 45
	if s := os.Getenv("OSQDETECT_CRASH_COMMITS"); s != "" {
		maxCommit, _ = strconv.Atoi(s)
	}
	for n := 1; n <= maxCommit; n++ {
		for _, delay := range []string{"", ":200us", ":2ms"} {
			spec := strconv.Itoa(n) + delay
			t.Run("commit "+spec, func(t *testing.T) {
				got := runCrashScenario(t, crashPlan{faults: []string{spec, ""}})
				checkCrashRun(t, ref, got, 1)
			})
		}
	}
	// With a process cache too small for the scenario, evictions too must
	// happen as in the uninterrupted run.
	small := crashReferenceSmallCache(t)
	t.Logf("small-cache reference: %d alerts", len(small.alerts))
	for name, plan := range map[string]crashPlan{
		"small cache, killed in every second commit":    {faults: []string{"2"}, cacheSize: smallCacheSize},
		"small cache, killed after short-lived parents": {killAfter: []int{48, 54}, respawnDelay: 1500 * time.Millisecond, cacheSize: smallCacheSize},
	} {
		t.Run(name, func(t *testing.T) {
			checkCrashRun(t, small, runCrashScenario(t, plan), 2)
		})
	}
	// Several kills in one run, at different commits of successive lives.
	for _, faults := range [][]string{{"1", "2", "3"}, {"3", "1:1ms", "2", "4:100us"}, {"2:500us"}} {
		t.Run("lives "+strings.Join(faults, ","), func(t *testing.T) {
			got := runCrashScenario(t, crashPlan{faults: faults})
			checkCrashRun(t, ref, got, len(faults))
		})
	}
}
