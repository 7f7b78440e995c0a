// Command osqcore runs the osquery core stand-in: an extension manager on a
// unix socket that answers osquery's Thrift API with SQLite, replays
// recorded events into process_events/socket_events, launches and respawns
// an extension like osqueryd's autoloader, and optionally runs one query and
// prints it as a table.
//
//	osqcore --socket /tmp/osq/osquery.em --extension build/osqdetect.ext \
//	        --wait-for osqdetect --replay scenario.jsonl --settle 5s \
//	        --query 'SELECT rule_name, process_name FROM alerts'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/osqdetect/osqdetect/tests/osqcore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	socket         string
	replay         string
	extension      string
	query          string
	settle         time.Duration
	waitFor        string
	waitTimeout    time.Duration
	eventsDisabled bool
	pingInterval   time.Duration
	verbose        bool
	flags          map[string]string
}

func parseArgs(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{flags: map[string]string{}}
	fs := flag.NewFlagSet("osqcore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.socket, "socket", "", "extension manager unix socket path (required, at most 97 characters)")
	fs.StringVar(&cfg.replay, "replay", "", "scenario file: JSON lines {\"table\":..,\"delay_ms\":N,\"row\":{..}}")
	fs.StringVar(&cfg.extension, "extension", "", "extension binary to launch (and respawn) like osqueryd's autoloader")
	fs.StringVar(&cfg.query, "query", "", "SQL to run after the replay; prints a table, then stops everything")
	fs.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait this long after the replay before --query")
	fs.StringVar(&cfg.waitFor, "wait-for", "", "registered extension name to wait for before replaying")
	fs.DurationVar(&cfg.waitTimeout, "wait-timeout", 30*time.Second, "how long to wait for --wait-for")
	fs.BoolVar(&cfg.eventsDisabled, "events-disabled", false, "run with --disable_events=true")
	fs.DurationVar(&cfg.pingInterval, "ping-interval", 3*time.Second, "extension health-check interval (--extensions_interval)")
	fs.BoolVar(&cfg.verbose, "verbose", false, "debug logging; also passes --verbose to the extension")
	fs.Func("flag", "osqueryd flag override NAME=VALUE (repeatable), e.g. events_expiry=60", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", s)
		}
		cfg.flags[name] = value
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if cfg.socket == "" {
		return nil, errors.New("--socket is required")
	}
	return cfg, nil
}

// lockedWriter serializes writes from the logger and the extension's
// output copier.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	cfg, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "osqcore:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var steps []osqcore.ScenarioStep
	if cfg.replay != "" {
		f, err := os.Open(cfg.replay)
		if err != nil {
			fmt.Fprintln(stderr, "osqcore:", err)
			return 1
		}
		steps, err = osqcore.ParseScenario(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "osqcore: %s: %v\n", cfg.replay, err)
			return 1
		}
	}

	core, err := osqcore.Start(ctx, osqcore.Options{
		Socket:          cfg.socket,
		PingInterval:    cfg.pingInterval,
		EventsDisabled:  cfg.eventsDisabled,
		Flags:           cfg.flags,
		Logger:          log,
		ExtensionOutput: stderr,
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	// The extension lives until it exits after shutdown(); killCtx is the
	// last resort (SIGTERM) for one that ignores it.
	killCtx, kill := context.WithCancel(context.Background())
	defer kill()
	noRespawn := make(chan struct{})
	supervised := make(chan struct{})
	if cfg.extension != "" {
		go func() {
			defer close(supervised)
			superviseExtension(killCtx, noRespawn, core, cfg.extension, cfg.verbose, log)
		}()
	} else {
		close(supervised)
	}
	code := drive(ctx, core, cfg, steps, stdout, stderr, log)

	// Stop like osqueryd: no more respawns, shutdown() to every extension,
	// close the socket, then reap the child.
	close(noRespawn)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelStop()
	if err := core.Stop(stopCtx); err != nil {
		log.Error("stopping core", "err", err)
		code = max(code, 1)
	}
	select {
	case <-supervised:
	case <-time.After(5 * time.Second):
		log.Warn("extension still running after shutdown; terminating it")
		kill()
		<-supervised
	}
	return code
}

func drive(ctx context.Context, core *osqcore.Core, cfg *config, steps []osqcore.ScenarioStep, stdout, stderr io.Writer, log *slog.Logger) int {
	if cfg.waitFor != "" {
		wctx, cancel := context.WithTimeout(ctx, cfg.waitTimeout)
		info, err := core.WaitForExtension(wctx, cfg.waitFor)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "osqcore:", err)
			return 1
		}
		log.Info("extension ready", "name", info.Name, "uuid", info.UUID, "tables", strings.Join(info.Tables, ","))
	}
	if len(steps) > 0 {
		total := 0
		err := core.Replay(ctx, steps, func(step osqcore.ScenarioStep, stored int) {
			total += stored
			log.Debug("replayed", "line", step.Line, "table", step.Table, "rows", stored)
		})
		if err != nil {
			fmt.Fprintf(stderr, "osqcore: %s: %v\n", cfg.replay, err)
			return 1
		}
		log.Info("replay done", "file", cfg.replay, "steps", len(steps), "stored", total)
	}
	if cfg.query == "" {
		log.Info("serving; interrupt to stop", "socket", core.Socket())
		select {
		case <-ctx.Done():
		case <-core.ShutdownRequested():
		}
		return 0
	}
	if cfg.settle > 0 {
		log.Info("settling before the query", "for", cfg.settle)
		t := time.NewTimer(cfg.settle)
		select {
		case <-ctx.Done():
			t.Stop()
			fmt.Fprintln(stderr, "osqcore: interrupted")
			return 1
		case <-t.C:
		}
	}
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cols, rows, err := core.QueryTable(qctx, cfg.query)
	if err != nil {
		fmt.Fprintln(stderr, "osqcore: query failed:", err)
		return 1
	}
	writeTable(stdout, cols, rows)
	log.Info("query done", "rows", len(rows))
	return 0
}

// superviseExtension launches the extension and relaunches it whenever it
// exits, until ctx ends, like osqueryd's watcher. Relaunches within a second
// of the previous start are delayed ("respawning too quickly").
func superviseExtension(ctx context.Context, noRespawn <-chan struct{}, core *osqcore.Core, path string, verbose bool, log *slog.Logger) {
	stopped := func() bool {
		select {
		case <-noRespawn:
			return true
		case <-ctx.Done():
			return true
		default:
			return false
		}
	}
	for {
		started := time.Now()
		cmd, err := core.LaunchExtension(ctx, path, verbose, nil)
		if err != nil {
			log.Error("cannot launch extension", "path", path, "err", err)
		} else {
			err = cmd.Wait()
			if stopped() {
				log.Info("extension exited", "path", path, "pid", cmd.Process.Pid, "status", err)
				return
			}
			log.Warn("extension exited; respawning", "path", path, "pid", cmd.Process.Pid, "status", err)
		}
		if time.Since(started) < time.Second {
			log.Warn("extension respawning too quickly", "path", path)
			t := time.NewTimer(time.Second)
			select {
			case <-noRespawn:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if stopped() {
			return
		}
	}
}

// writeTable prints rows in osqueryi's pretty format.
func writeTable(w io.Writer, cols []string, rows []map[string]string) {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c)
		for _, r := range rows {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[c]))
		}
	}
	var b strings.Builder
	sep := func() {
		b.WriteString("+")
		for _, n := range widths {
			b.WriteString(strings.Repeat("-", n+2))
			b.WriteString("+")
		}
		b.WriteString("\n")
	}
	line := func(cells func(i int) string) {
		b.WriteString("|")
		for i, n := range widths {
			s := cells(i)
			b.WriteString(" ")
			b.WriteString(s)
			b.WriteString(strings.Repeat(" ", n-utf8.RuneCountInString(s)+1))
			b.WriteString("|")
		}
		b.WriteString("\n")
	}
	sep()
	line(func(i int) string { return cols[i] })
	sep()
	for _, r := range rows {
		line(func(i int) string { return r[cols[i]] })
	}
	if len(rows) > 0 {
		sep()
	}
	io.WriteString(w, b.String())
}
