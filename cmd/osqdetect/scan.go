package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/rules"
)

func init() {
	register("scan", "run the rules over osquery results logs and print alerts", runScan)
}

const scanUsage = "scan [--rules DIR]... [--state FILE] [--format jsonl|table] [--reorder-window 5m] FILE...|-"

func runScan(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("scan", scanUsage, io.err)
	var dirs stringList
	fs.Var(&dirs, "rules", "directory (or file) of extra Elastic rule TOML files; repeatable")
	noBuiltin := fs.Bool("no-builtin", false, "leave the bundled rules out")
	statePath := fs.String("state", "", "file keeping new-terms history, pending sequences and the process cache between scans")
	format := fs.String("format", "jsonl", "output format: jsonl or table")
	window := fs.Duration("reorder-window", 5*time.Minute, "how far out of order rows of different log blocks may be")
	noRateLimit := fs.Bool("no-rate-limit", false, "do not apply the rules' max_signals per interval")
	files, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	if *format != "jsonl" && *format != "table" {
		fmt.Fprintf(io.err, "osqdetect scan: --format must be jsonl or table, not %q\n", *format)
		return exitUsage
	}
	if os.Getenv("GOGC") == "" {
		// Loading and compiling rules makes much short-lived garbage in a
		// heap of a few MB: at the default the collector would run every
		// few MB. tuneGC sets scan's own settings once the engines are built.
		debug.SetGCPercent(loadGCPercent)
	}
	set, err := rules.Load(dirs, rules.LoadOptions{SkipBuiltin: *noBuiltin})
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect scan: %v\n", err)
		return exitUsage
	}
	for _, st := range set.Rejected() {
		fmt.Fprintf(io.err, "osqdetect scan: rule rejected: %s\n", st.Error)
	}
	if len(set.Rules) == 0 {
		fmt.Fprintln(io.err, "osqdetect scan: no rules to run")
		return exitUsage
	}

	// Engines: one per CPU, each for its share of the hosts, when every
	// rule keeps its state per host; else one. State files hold one
	// engine's state.
	shards := runtime.GOMAXPROCS(0)
	if *statePath != "" || !perHost(set.Rules) {
		shards = 1
	}
	p := newScanPipeline(set.Rules, detect.Options{DisableRateLimit: *noRateLimit}, shards, *window,
		newAlertWriter(io.out, *format), io.err, files)
	var prior scanState
	if *statePath != "" {
		if prior, err = loadScanState(*statePath, p.sensors[0]); err != nil {
			fmt.Fprintf(io.err, "osqdetect scan: %v\n", err)
			return exitUsage
		}
	}

	tuneGC()
	p.start()
	if *statePath != "" {
		p.resume(prior)
	}
	// The state is taken before the reorder window is drained: the rows it
	// still holds may yet be joined by rows of the next log, so the next
	// scan processes them again from this point, and the alerts printed now
	// from them are not printed twice.
	var next scanState
	var takeErr error
	p.beforeFlush = func() {
		if *statePath != "" {
			next, takeErr = takeScanState(p.sensors[0], p.reorder, prior.Files+uint64(len(files)))
		}
	}
	for i, path := range files {
		if ctx.Err() != nil {
			break
		}
		p.scanFile(ctx, path, prior.Files+uint64(i), io.in)
	}
	// Whatever happened above, every row read is processed and every
	// alert written, as whole lines.
	p.finish()
	failed := false
	if err := p.out.flush(); err != nil {
		fmt.Fprintf(io.err, "osqdetect scan: writing alerts: %v\n", err)
		failed = true
	}
	if *statePath != "" && !failed && takeErr != nil {
		fmt.Fprintf(io.err, "osqdetect scan: %v\n", takeErr)
		failed = true
	}
	if *statePath != "" && !failed {
		next.Printed = p.flushed
		if err := saveScanState(*statePath, next); err != nil {
			fmt.Fprintf(io.err, "osqdetect scan: %v\n", err)
			failed = true
		}
	}
	p.printSummary(io.err, len(files))
	switch {
	case failed || p.sum.readFailures > 0 || ctx.Err() != nil:
		return exitFailure
	case p.sum.badFiles > 0 || p.sum.badLines > 0 || p.sum.badRows > 0 || p.sum.quarantined > 0:
		return exitUsage
	}
	return exitOK
}

// tuneGC trades memory the reorder window and caches leave unused for
// fewer collections: the collector runs when the heap has tripled (not
// doubled) since the last one, or near scanMemoryLimit, whichever comes
// first. GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(scanMemoryLimit)
	}
}

// loadGCPercent is the collector's GOGC while rules load (every corpus
// rule: 1,129M -> 908M instructions to load, callgrind; the heap peaks
// at about 50 MB, under what the scan itself holds).
const loadGCPercent = 400

// scanMemoryLimit is the heap size the collector keeps scan under while it
// can: the reorder window's 64 MiB, the process cache (100,000 processes
// at most) and the engine fit in it with room to spare.
const scanMemoryLimit = 224 << 20

func perHost(rs []*detect.Rule) bool {
	for _, r := range rs {
		if !r.PerHost() {
			return false
		}
	}
	return true
}

// Rows carry their place in the input as Seq: the file's index in the
// high bits and the line in the low ones, so ties keep file order and a bad
// row can be named by file and line.
const lineBits = 40

// base is the number of files earlier scans of the same state file read:
// rows of this scan are numbered after theirs.
func rowPlace(files []string, base, seq uint64) string {
	i := seq >> lineBits
	name := "stdin"
	switch {
	case i < base:
		name = "a log of an earlier scan"
	case int(i-base) < len(files) && files[i-base] != "-":
		name = files[i-base]
	}
	return fmt.Sprintf("%s:%d", name, seq&(1<<lineBits-1))
}

// scanState is what --state keeps between scans: the engine's whole state
// as it was before the reorder window was drained, the rows that window
// held, and the ids of the alerts printed from them, so that scanning a log
// in parts gives the alerts of one scan of the whole log, each once.
// Version 1 files (terms, sequences and a process cache snapshot) are read.
type scanState struct {
	Version   int                `json:"version"`
	Terms     []detect.TermEntry `json:"terms"`
	Sequences json.RawMessage    `json:"sequences,omitempty"`
	Processes json.RawMessage    `json:"processes,omitempty"` // version 1

	Limits         json.RawMessage `json:"limits,omitempty"`
	Groups         []scanGroup     `json:"groups,omitempty"`
	EngineCounters json.RawMessage `json:"engine_counters,omitempty"`
	SensorCounters json.RawMessage `json:"sensor_counters,omitempty"`
	ProcessClock   json.RawMessage `json:"process_clock,omitempty"`
	ProcessSlots   []scanSlot      `json:"process_slots,omitempty"`
	Held           []scanRow       `json:"held,omitempty"`
	Released       int64           `json:"released"`
	Printed        []string        `json:"printed,omitempty"`
	Files          uint64          `json:"files"`
}

type scanGroup struct {
	Rule string          `json:"rule"`
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data"`
}

type scanSlot struct {
	Slot int32           `json:"slot"`
	Data json.RawMessage `json:"data"`
}

type scanRow struct {
	Table string            `json:"table"`
	Host  string            `json:"host"`
	Cols  map[string]string `json:"cols"`
	Seq   uint64            `json:"seq"`
}

const scanStateVersion = 2

func loadScanState(path string, s *detect.Sensor) (scanState, error) {
	st := scanState{Released: -1}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading state file: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("state file %s is not valid: %v", path, err)
	}
	if st.Version != 1 && st.Version != scanStateVersion {
		return st, fmt.Errorf("state file %s has version %d, want %d", path, st.Version, scanStateVersion)
	}
	if st.Version == 1 {
		st.Released = -1
	}
	full := detect.SensorState{
		Engine:       detect.EngineState{Terms: st.Terms, Sequences: st.Sequences, Limits: st.Limits, Counters: st.EngineCounters},
		ProcessClock: st.ProcessClock, LegacyProcs: st.Processes, Counters: st.SensorCounters,
	}
	for _, g := range st.Groups {
		full.Engine.Groups = append(full.Engine.Groups, detect.GroupEntry{Rule: g.Rule, Key: g.Key, Data: g.Data})
	}
	for _, sl := range st.ProcessSlots {
		full.ProcessSlots = append(full.ProcessSlots, normalize.ProcessSlot{Slot: sl.Slot, Data: sl.Data})
	}
	if err := s.RestoreState(full); err != nil {
		return st, fmt.Errorf("state file %s: %w", path, err)
	}
	return st, nil
}

// takeScanState records the sensor's state and the rows the reorder window
// holds, before the window is drained.
func takeScanState(s *detect.Sensor, reorder *normalize.Reorderer, files uint64) (scanState, error) {
	full, err := s.FullState()
	if err != nil {
		return scanState{}, err
	}
	st := scanState{Version: scanStateVersion, Terms: full.Engine.Terms, Sequences: full.Engine.Sequences,
		Limits: full.Engine.Limits, EngineCounters: full.Engine.Counters, SensorCounters: full.Counters,
		ProcessClock: full.ProcessClock, Released: reorder.Released(), Files: files}
	for _, g := range full.Engine.Groups {
		st.Groups = append(st.Groups, scanGroup{Rule: g.Rule, Key: g.Key, Data: g.Data})
	}
	for _, sl := range full.ProcessSlots {
		st.ProcessSlots = append(st.ProcessSlots, scanSlot{Slot: sl.Slot, Data: sl.Data})
	}
	for _, r := range reorder.Held() {
		st.Held = append(st.Held, scanRow{Table: r.Table, Host: r.Host, Cols: r.ColMap(), Seq: r.Seq})
	}
	return st, nil
}

// saveScanState writes the state atomically: a crash leaves the old file.
func saveScanState(path string, st scanState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	return writeFileAtomic(path, data)
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	return nil
}

// alertWriter prints alerts as JSON lines at once, or collects them for a
// table printed at the end.
type alertWriter struct {
	w      *bufio.Writer
	format string
	alerts []*detect.Alert
	buf    []byte
	err    error
}

func newAlertWriter(w io.Writer, format string) *alertWriter {
	return &alertWriter{w: bufio.NewWriter(w), format: format}
}

func (aw *alertWriter) add(a *detect.Alert) {
	if aw.format == "table" {
		aw.alerts = append(aw.alerts, a)
		return
	}
	aw.buf = appendAlertJSON(aw.buf[:0], a)
	aw.buf = append(aw.buf, '\n')
	if _, err := aw.w.Write(aw.buf); err != nil && aw.err == nil {
		aw.err = err
	}
}

func (aw *alertWriter) flush() error {
	if aw.err != nil {
		return aw.err
	}
	if aw.format == "table" {
		printAlertTable(aw.w, aw.alerts)
	}
	return aw.w.Flush()
}

// printAlertTable prints alerts as an aligned, readable table.
func printAlertTable(w io.Writer, alerts []*detect.Alert) {
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].TimeMillis < alerts[j].TimeMillis })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tSEVERITY\tRULE\tHOST\tPID\tPROCESS\tPARENT\tDESTINATION")
	for _, a := range alerts {
		dest := "-"
		if a.DestinationIP != "" {
			dest = fmt.Sprintf("%s:%d", a.DestinationIP, a.DestinationPort)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			time.Unix(a.Time, 0).UTC().Format("2006-01-02 15:04:05"), a.Severity, a.RuleName,
			a.HostID, a.Pid, a.ProcessCommandLine, a.ParentName, dest)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d alerts\n", len(alerts))
}
