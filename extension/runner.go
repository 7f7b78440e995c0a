package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	osquery "github.com/osquery/osquery-go"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/extension/config"
	"github.com/osqdetect/osqdetect/extension/store"
)

// Name is the name the extension registers with osquery (the name
// --extensions_require takes).
const Name = "osqdetect"

// Version is reported to osquery at registration.
const Version = "0.1.0"

// Options configure Run.
type Options struct {
	// Socket is osquery's extension manager socket (--socket).
	Socket string
	// Timeout is how long to wait for that socket at start (--timeout);
	// at least minStartWait is waited.
	Timeout time.Duration
	// Interval is how often the extension checks that osquery still has
	// it registered (--interval, osqueryd's --extensions_interval).
	Interval time.Duration
	// Config holds the settings file's values.
	Config config.Config
	// Logger receives the extension's log (default: discard).
	Logger *slog.Logger
	// Grace is how long osquery may stay unreachable before Run gives up
	// with an error, so that osqueryd's watcher respawns the extension.
	// Within it the extension reconnects and registers again by itself.
	// Default: 20 intervals, at least 30 seconds.
	Grace time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Tables builds the table plugins (default StandardTables).
	Tables TablesFunc
}

const (
	minStartWait    = 3 * time.Second
	callTimeout     = 30 * time.Second
	registerTimeout = time.Minute
	maxPagesPerTick = 20
	probeEvery      = time.Minute
)

// Run is the extension's life: connect to osquery, register the tables,
// poll the event tables into the rules and commit alerts, until osqueryd
// asks the extension to shut down or ctx ends (both return nil after the
// state is flushed). It returns an error when it cannot start, or when
// osquery stays unreachable longer than the grace period.
func Run(ctx context.Context, opts Options) error {
	limit := setMemoryLimit()
	r, err := newRunner(opts)
	if err != nil {
		return err
	}
	defer r.close()
	r.log.Debug("memory", "soft_limit_bytes", limit)
	return r.run(ctx)
}

type runner struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	client *CoreClient
	health *Health
	deps   *wiring

	host   string
	sensor *detect.Sensor
	poller *Poller
	setup  EventsSetup
	state  pollState
	seq    uint64

	server    *osquery.ExtensionManagerServer
	serveDone chan error

	coreLostSince time.Time
	lastProbe     time.Time
	pending       *pendingCommit
	rows          []normalize.Row // the last page's rows, reused (they die with the page)
	// slots is the last commit's list of process cache slots, reused by
	// the next (a commit kept after a failure owns a copy: ownSlots).
	slots  []store.Slot
	memory idleReturn
	// lastStorePages is when the store's mapped pages were last dropped
	// from the resident set (dropStorePages).
	lastStorePages time.Time
}

// pollState is the poller position and durable counters, committed with
// every batch of alerts (the cursor as the store's per-table cursors).
type pollState struct {
	Cursor    Cursor           `json:"-"`
	Delivered map[string]int64 `json:"delivered"`
	Rejected  int64            `json:"rejected"`
	LastError string           `json:"last_reject,omitempty"`
	// Seq numbers the rows handed to the sensor (their arrival order).
	Seq uint64 `json:"seq,omitempty"`
}

func newRunner(opts Options) (*runner, error) {
	if opts.Socket == "" {
		return nil, errors.New("no osquery socket given (--socket)")
	}
	if len(opts.Socket) > osquery.MaxSocketPathCharacters {
		return nil, fmt.Errorf("osquery socket path %s is longer than %d characters", opts.Socket, osquery.MaxSocketPathCharacters)
	}
	if opts.Interval <= 0 {
		opts.Interval = 3 * time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = max(20*opts.Interval, 30*time.Second)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Config.PollInterval <= 0 {
		opts.Config.PollInterval = config.Defaults().PollInterval
	}
	r := &runner{
		opts:   opts,
		log:    opts.Logger,
		now:    opts.Now,
		client: NewCoreClient(opts.Socket, callTimeout),
		health: NewHealth(),
		state:  pollState{Delivered: map[string]int64{}},
	}
	return r, nil
}

func (r *runner) close() {
	if r.deps != nil {
		r.deps.close()
	}
	r.client.Close()
}

func (r *runner) run(ctx context.Context) error {
	deps, err := openWiring(ctx, r.opts, r.health, r.log)
	if err != nil {
		return err
	}
	r.deps = deps

	startWait := max(r.opts.Timeout, minStartWait, r.opts.Grace)
	if err := r.waitForCore(ctx, startWait); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := r.prepare(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.memory.release(r.now()) // the processes table's rows are garbage now
	if err := r.register(); err != nil {
		return err
	}

	pollT := time.NewTicker(r.opts.Config.PollInterval)
	defer pollT.Stop()
	watchT := time.NewTicker(r.opts.Interval)
	defer watchT.Stop()
	pruneT := time.NewTicker(r.deps.pruneInterval())
	defer pruneT.Stop()

	r.pollTick(ctx)
	for {
		select {
		case <-ctx.Done():
			r.log.Info("stopping: signal received")
			r.stop()
			return nil
		case err := <-r.serveDone:
			if err == nil {
				r.log.Info("stopping: osquery asked the extension to shut down")
				r.server, r.serveDone = nil, nil // it deregistered already
				r.stop()
				return nil
			}
			// Registration was refused or the server failed: the watch
			// registers again.
			r.log.Warn("extension server stopped", "err", err)
			r.health.Update(func(s *HealthSnapshot) { s.Registered = false; s.LastCoreError = err.Error() })
			r.server, r.serveDone = nil, nil
		case <-pollT.C:
			r.pollTick(ctx)
		case <-watchT.C:
			if err := r.watch(ctx); err != nil {
				if errors.Is(err, errShutdownRequested) {
					r.log.Info("stopping: osquery asked the extension to shut down")
					r.server, r.serveDone = nil, nil
					r.stop()
					return nil
				}
				r.stop()
				return err
			}
		case <-pruneT.C:
			r.deps.prune(ctx, r.now(), r.state.Cursor.Time)
		}
	}
}

// waitForCore waits for the socket file and a successful ping, as osqueryd
// may create the socket before it answers.
func (r *runner) waitForCore(ctx context.Context, wait time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := WaitForSocket(wctx, r.opts.Socket); err != nil {
		return err
	}
	var last error
	for {
		pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
		last = r.client.PingContext(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("waiting for osquery to answer on %s: %w", r.opts.Socket, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// prepare reads the host's identity and event setup, builds the sensor and
// restores its durable state.
func (r *runner) prepare(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	row, err := r.client.QueryRows(qctx, "SELECT uuid FROM system_info")
	if err != nil {
		return fmt.Errorf("reading the host id from system_info: %w", err)
	}
	if len(row) == 0 || row[0]["uuid"] == "" {
		return errors.New("reading the host id: system_info has no uuid")
	}
	r.host = row[0]["uuid"]
	r.health.Update(func(s *HealthSnapshot) { s.HostID = r.host; s.CoreReachable = true })

	if err := r.probe(ctx); err != nil {
		return err
	}

	r.sensor = detect.NewSensor(r.deps.rules.Rules, r.deps.sensorOptions())
	saved, err := r.deps.load(qctx)
	if err != nil {
		return err
	}
	if err := r.sensor.RestoreState(saved.sensor); err != nil {
		r.log.Warn("engine state partly restored", "err", err)
		r.health.Update(func(s *HealthSnapshot) { s.StateRestoreError = err.Error() })
	}
	restored := len(saved.sensor.ProcessClock) > 0 || len(saved.sensor.LegacyProcs) > 0
	if b := saved.poller; len(b) > 0 {
		var st pollState
		if err := json.Unmarshal(b, &st); err != nil {
			r.log.Warn("poller counters unreadable; starting them from zero", "err", err)
		} else {
			if st.Delivered == nil {
				st.Delivered = map[string]int64{}
			}
			r.state = st
		}
	}
	r.state.Cursor = cursorFromStore(saved.cursors)
	if limit := r.poller.QuarantineLimit(r.now().Unix()); r.state.Cursor.Time > limit {
		// A cursor past the clock (saved by a version that trusted a row
		// stamped in the future) would skip every event until that time:
		// read again everything osquery still buffers; alert ids are
		// stable, so nothing is raised twice.
		r.log.Warn("saved cursor is ahead of the clock; reading osquery's buffer again", "cursor", r.state.Cursor.Time, "limit", limit)
		r.state.Cursor = Cursor{Time: max(r.now().Unix()-r.setup.ExpirySeconds, 0)}
	}
	r.seq = r.state.Seq
	r.seed(qctx, restored)
	r.publishEngine()
	r.log.Info("started", "host_id", r.host, "rules", len(r.deps.rules.Rules), "cursor", r.state.Cursor.Time,
		"sources", sourceNames(r.setup.Sources), "state_dir", r.opts.Config.StateDir)
	return nil
}

// seed fills the process cache from osquery's processes table (what is
// alive now). On a first start that is every process. After a restart the
// durable cache already holds everything the events up to the cursor said,
// and events after the cursor are read again, so a restart must add nothing
// an uninterrupted run would not know: only processes the cache does not
// know and that began before the cursor (their events were lost, expired or
// never collected) are added, and only into free room, never evicting an
// entry the uninterrupted run would still have.
func (r *runner) seed(ctx context.Context, restored bool) {
	procs, err := r.client.QueryRows(ctx, "SELECT pid, name, path, cmdline, cwd, parent, uid, gid, euid, egid, start_time FROM processes")
	if err != nil {
		r.log.Warn("process cache not seeded from the processes table", "err", err)
		return
	}
	if restored {
		kept := procs[:0]
		for _, p := range procs {
			pid, perr := strconv.ParseInt(p["pid"], 10, 64)
			start, serr := strconv.ParseInt(p["start_time"], 10, 64)
			if perr == nil && r.sensor.KnowsProcess(r.host, pid) {
				continue
			}
			if serr == nil && start >= r.state.Cursor.Time && r.state.Cursor.Time > 0 {
				continue // its exec is still to be read
			}
			if len(kept) >= r.sensor.ProcessCacheRoom() {
				break
			}
			kept = append(kept, p)
		}
		procs = kept
	}
	if _, err := r.sensor.Seed(r.host, procs); err != nil {
		r.log.Warn("seeding the process cache", "err", err)
	}
}

func sourceNames(src []Source) []string {
	names := make([]string, len(src))
	for i, s := range src {
		names[i] = s.Table
	}
	return names
}

// probe (re)reads osquery's event setup and publishes it in health.
func (r *runner) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	setup, err := ProbeEvents(pctx, r.client)
	if err != nil {
		return err
	}
	r.lastProbe = r.now()
	if r.poller == nil || !slices.EqualFunc(r.poller.Sources(), setup.Sources, func(a, b Source) bool { return a.Table == b.Table }) {
		r.poller = NewPoller(r.client, setup.Sources)
		r.poller.Now = r.now
	}
	r.setup = setup
	for _, s := range setup.Sources {
		st := setup.Status[s.Table]
		r.health.UpdateSource(s.Table, func(h *SourceHealth) {
			h.EventsEnabled = st.Enabled
			h.EventsProblem = st.Problem
		})
		if !st.Enabled {
			r.log.Warn("events not collected; detections on this table are blind", "table", s.Table, "problem", st.Problem)
		}
	}
	r.health.Update(func(h *HealthSnapshot) { h.EventsExpiry = setup.ExpirySeconds })
	r.updateWarnings()
	return nil
}

// register creates a fresh extension server (a stopped one cannot be
// restarted) and starts it; Start registers with osquery, then serves.
func (r *runner) register() error {
	srv, err := osquery.NewExtensionManagerServer(Name, r.opts.Socket,
		osquery.ServerTimeout(registerTimeout),
		osquery.ExtensionVersion(Version),
		osquery.WithClient(r.client))
	if err != nil {
		return fmt.Errorf("creating the extension server: %w", err)
	}
	srv.RegisterPlugin(r.deps.plugins()...)
	done := make(chan error, 1)
	go func() { done <- srv.Start() }()
	r.server, r.serveDone = srv, done
	r.health.Update(func(s *HealthSnapshot) { s.Registrations++ })
	r.log.Info("registering with osquery", "name", Name, "socket", r.opts.Socket)
	return nil
}

// unregister stops the current server; its Start returns, which is not
// osqueryd's shutdown request.
func (r *runner) unregister() {
	if r.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.server.Shutdown(ctx); err != nil {
		r.log.Debug("deregistering the old server", "err", err.Error())
	}
	r.server, r.serveDone = nil, nil
}

// watch checks that osquery is reachable and still lists the extension;
// osqueryd drops an extension after one failed ping and never tells it.
func (r *runner) watch(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, max(r.opts.Interval, 2*time.Second))
	defer cancel()
	names, err := r.client.ExtensionNames(wctx)
	now := r.now()
	if err != nil {
		if r.coreLostSince.IsZero() {
			r.coreLostSince = now
			r.log.Warn("osquery unreachable; waiting for it to come back", "err", err, "grace", r.opts.Grace)
		}
		r.health.Update(func(s *HealthSnapshot) { s.CoreReachable = false; s.Registered = false; s.LastCoreError = err.Error() })
		if now.Sub(r.coreLostSince) > r.opts.Grace {
			return fmt.Errorf("osquery unreachable on %s for %s: %w", r.opts.Socket, now.Sub(r.coreLostSince).Round(time.Second), err)
		}
		return nil
	}
	if !r.coreLostSince.IsZero() {
		r.log.Info("osquery reachable again", "after", now.Sub(r.coreLostSince).Round(time.Second))
		r.coreLostSince = time.Time{}
		if err := r.probe(ctx); err != nil {
			r.log.Warn("reading osquery's event setup", "err", err)
		}
	} else if now.Sub(r.lastProbe) > probeEvery {
		if err := r.probe(ctx); err != nil {
			r.log.Warn("reading osquery's event setup", "err", err)
		}
	}
	// Listed but without a live server of ours means another instance (one
	// killed before osquery noticed) holds the name: keep trying until
	// osquery drops it.
	registered := slices.Contains(names, Name) && r.server != nil
	r.health.Update(func(s *HealthSnapshot) { s.CoreReachable = true; s.Registered = registered })
	if registered {
		return nil
	}
	if r.server != nil {
		// osqueryd's shutdown request deregisters the extension before the
		// server stops: not being listed then is the shutdown, not a drop.
		if r.shutdownRequested(shutdownSettle) {
			return errShutdownRequested
		}
		// The server registers as it starts, asynchronously: one started
		// just before this watch may be listed by now.
		if r.server != nil && r.listed(ctx) {
			r.health.Update(func(s *HealthSnapshot) { s.CoreReachable = true; s.Registered = true })
			return nil
		}
		r.log.Warn("osquery no longer lists the extension; registering again")
	}
	r.unregister()
	return r.register()
}

// errShutdownRequested is watch's way of saying osqueryd asked the
// extension to shut down.
var errShutdownRequested = errors.New("osquery asked the extension to shut down")

// shutdownSettle is how long watch waits for the server to stop when osquery
// stopped listing the extension: a shutdown request deregisters first and
// stops the server right after.
const shutdownSettle = 2 * time.Second

// shutdownRequested reports whether the current server ended without an
// error (osqueryd's shutdown call) within wait. An error there means the
// registration was refused, to be retried.
func (r *runner) shutdownRequested(wait time.Duration) bool {
	select {
	case err := <-r.serveDone:
		if err == nil {
			return true
		}
		r.log.Warn("extension server stopped", "err", err)
		r.server, r.serveDone = nil, nil
		return false
	case <-time.After(wait):
		return false
	}
}

// listed asks osquery whether it lists the extension now.
func (r *runner) listed(ctx context.Context) bool {
	lctx, cancel := context.WithTimeout(ctx, max(r.opts.Interval, 2*time.Second))
	defer cancel()
	names, err := r.client.ExtensionNames(lctx)
	return err == nil && slices.Contains(names, Name)
}

// pollTick reads the event tables until caught up (bounded per tick) and
// commits each page with the alerts it produced.
func (r *runner) pollTick(ctx context.Context) {
	before := r.delivered()
	defer func() {
		if r.memory.observe(int(r.delivered()-before), r.now()) {
			r.log.Debug("idle: memory returned to the system")
		}
	}()
	for page := 0; page < maxPagesPerTick && ctx.Err() == nil; page++ {
		if r.pending != nil {
			if err := r.commitPending(); err != nil {
				return
			}
		}
		more, err := r.pollPage(ctx)
		if err != nil || !more {
			return
		}
	}
}

// delivered is the total of rows handed to the engine.
func (r *runner) delivered() int64 {
	var n int64
	for _, v := range r.state.Delivered {
		n += v
	}
	return n
}

func (r *runner) pollPage(ctx context.Context) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	prev := r.state.Cursor
	page, err := r.poller.Poll(pctx, prev)
	now := r.now()
	moved := err == nil && !cursorEqual(prev, page.Next)
	for table, read := range page.Tables {
		r.health.UpdateSource(table, func(h *SourceHealth) {
			h.Polls++
			h.LastPoll = now
			h.RowsRead += int64(read.Rows)
			h.Malformed += int64(read.Malformed)
			h.Quarantined += int64(read.Quarantined)
			if read.LastQuarantine != "" {
				h.LastQuarantine = read.LastQuarantine
			}
			if read.LastError != "" {
				h.Errors++
				h.LastError = read.LastError
			}
			switch {
			case moved || (err == nil && read.Waiting == 0):
				h.StalledSince, h.StallReason = time.Time{}, ""
			case h.StalledSince.IsZero():
				h.StalledSince = now
				if err != nil {
					h.StallReason = "polling fails: " + err.Error()
				} else {
					h.StallReason = fmt.Sprintf("%d rows of complete seconds wait beyond the cursor at %d", read.Waiting, prev.Time)
				}
			}
		})
	}
	for _, reason := range page.MalformedReasons {
		r.log.Warn("event row skipped", "reason", reason)
	}
	if err != nil {
		r.log.Debug("poll failed", "err", err)
		return false, err
	}

	if len(page.Rows) > 0 || page.More {
		r.log.Debug("polled", "rows", len(page.Rows), "cursor", page.Next.Time, "more", page.More)
	}
	rows := slices.Grow(r.rows[:0], len(page.Rows))[:len(page.Rows)]
	r.rows = rows
	for i, raw := range page.Rows {
		r.seq++
		rows[i] = normalize.Row{Table: raw.Table, Host: r.host, Fields: raw.Fields, Seq: r.seq}
	}
	var alerts []*detect.Alert
	rejects := r.sensor.Ingest(rows, func(a *detect.Alert) {
		cp := *a
		alerts = append(alerts, &cp)
	})
	for _, raw := range page.Rows {
		r.state.Delivered[raw.Table]++
	}
	r.state.Rejected += int64(len(rejects))
	if len(rejects) > 0 {
		r.state.LastError = rejects[len(rejects)-1].Error()
		r.log.Warn("event rows rejected", "count", len(rejects), "last", r.state.LastError)
	}
	r.state.Cursor = page.Next
	for _, a := range alerts {
		r.log.Info("alert", "rule_id", a.RuleID, "rule_name", a.RuleName, "pid", a.Pid, "id", a.ID)
	}

	r.state.Seq = r.seq
	if len(page.Rows) > 0 || !cursorEqual(prev, page.Next) {
		if err := r.commit(alerts); err != nil {
			return false, err
		}
	}
	r.publishPoll(now)
	return page.More, nil
}

// commit writes the alerts, the cursor and everything the sensor changed
// since the previous commit in one store transaction (see durable.go); on
// failure it is kept and merged into the next.
func (r *runner) commit(alerts []*detect.Alert) error {
	delta, err := r.sensor.TakeDelta()
	if err != nil {
		// Encoding in-memory state does not fail in practice; if it did,
		// committing the cursor without it would break the invariant.
		r.log.Error("serializing engine state", "err", err)
		return err
	}
	pollBlob, err := json.Marshal(r.state)
	if err != nil {
		return fmt.Errorf("serializing poller state: %w", err)
	}
	pc := newPendingCommit(alerts, delta, cursorToStore(r.state.Cursor, r.poller.Sources()), pollBlob, r.slots)
	if list := pc.slots[slotsProcesses]; list != nil {
		r.slots = list
	}
	if r.pending != nil {
		r.pending.merge(pc)
	} else {
		r.pending = pc
	}
	return r.commitPending()
}

func (r *runner) commitPending() error {
	pc := r.pending
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := r.deps.commit(ctx, pc)
	r.health.Update(func(s *HealthSnapshot) {
		if err != nil {
			s.CommitErrors++
			s.LastCommitError = err.Error()
			return
		}
		s.Commits++
		s.AlertsCommitted += int64(len(pc.alerts))
	})
	if err != nil {
		r.log.Error("committing alerts and state; will retry", "err", err)
		// Kept for the next commit: the journal's slots are valid only
		// until the next TakeDelta reuses their storage.
		pc.ownSlots()
		return err
	}
	r.pending = nil
	r.dropStorePages()
	return nil
}

// storePagesEvery spaces DropResidentPages calls after commits.
const storePagesEvery = 5 * time.Second

// dropStorePages lets the state store's mapped file pages leave the
// resident set now and then: each commit reads pages of a store that holds
// the process cache slot by slot, and left alone the whole file becomes
// resident (page cache the extension would be charged for).
func (r *runner) dropStorePages() {
	now := r.now()
	if r.deps == nil || r.deps.store == nil || now.Sub(r.lastStorePages) < storePagesEvery {
		return
	}
	r.lastStorePages = now
	if err := r.deps.store.DropResidentPages(); err != nil {
		r.log.Debug("releasing the state store's pages", "err", err)
	}
}

func (r *runner) publishEngine() {
	stats := r.sensor.Stats()
	r.health.Update(func(s *HealthSnapshot) {
		s.Engine = stats
		s.RowsRejected = r.state.Rejected
		s.LastRejectError = r.state.LastError
		var total int64
		for _, n := range r.state.Delivered {
			total += n
		}
		s.EventsIngested = total
	})
	for table, n := range r.state.Delivered {
		r.health.UpdateSource(table, func(h *SourceHealth) { h.RowsDelivered = n })
	}
}

func (r *runner) publishPoll(now time.Time) {
	// The cursor never passes the clock (the poller reads no row stamped
	// later), so the lag is the plain difference.
	lag := max(now.Unix()-r.state.Cursor.Time, 0)
	for _, s := range r.poller.Sources() {
		r.health.UpdateSource(s.Table, func(h *SourceHealth) {
			h.Cursor = r.state.Cursor.Time
			h.LagSeconds = lag
		})
	}
	r.publishEngine()
	r.updateWarnings()
}

// updateWarnings lists what makes the sensor blind or lossy.
func (r *runner) updateWarnings() {
	var warn []string
	for _, s := range r.setup.Sources {
		if st := r.setup.Status[s.Table]; !st.Enabled {
			warn = append(warn, s.Table+": "+st.Problem)
		}
	}
	if r.state.Cursor.Time > 0 && r.setup.ExpirySeconds > 0 {
		lag := r.now().Unix() - r.state.Cursor.Time
		if lag*2 > r.setup.ExpirySeconds {
			warn = append(warn, fmt.Sprintf("polling lags %ds behind, over half of events_expiry (%ds): events may expire before they are read", lag, r.setup.ExpirySeconds))
		}
	}
	r.health.Update(func(s *HealthSnapshot) { s.Warnings = warn })
}

// stop flushes the engine's state (cursor, sequences, process cache) and
// deregisters.
func (r *runner) stop() {
	if r.sensor != nil && r.poller != nil {
		if err := r.commit(nil); err != nil {
			r.log.Error("flushing state at shutdown", "err", err)
		}
	}
	r.unregister()
}

func cursorEqual(a, b Cursor) bool {
	return a.Time == b.Time && maps.Equal(a.After, b.After)
}

// cursorToStore renders the shared cursor as the store's per-table cursors:
// a mark's eid is listed once per row of that eid already read.
func cursorToStore(c Cursor, sources []Source) map[string]store.Cursor {
	out := make(map[string]store.Cursor, len(sources))
	for _, s := range sources {
		sc := store.Cursor{Time: c.Time}
		if m, ok := c.After[s.Table]; ok {
			for range max(m.Dup, 1) {
				sc.EIDs = append(sc.EIDs, m.EID)
			}
		}
		out[s.Table] = sc
	}
	return out
}

// cursorFromStore rebuilds the shared cursor. Tables are committed
// together, so their times agree; the oldest wins if they do not.
func cursorFromStore(cs map[string]store.Cursor) Cursor {
	var c Cursor
	first := true
	for _, sc := range cs {
		if first || sc.Time < c.Time {
			c.Time = sc.Time
			first = false
		}
	}
	for table, sc := range cs {
		if sc.Time == c.Time && len(sc.EIDs) > 0 {
			if c.After == nil {
				c.After = map[string]Mark{}
			}
			m := Mark{EID: sc.EIDs[len(sc.EIDs)-1]}
			for _, e := range sc.EIDs {
				if e == m.EID {
					m.Dup++
				}
			}
			c.After[table] = m
		}
	}
	return c
}
