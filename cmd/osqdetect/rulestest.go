package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/eventfile"
	"github.com/osqdetect/osqdetect/rules"
)

const rulesTestUsage = "rules test --rule FILE [--input auto|ecs|osquery] [--format jsonl|table] [--timestamp-field F] [--tiebreaker-field F] [--no-rate-limit] EVENTS..."

// runRulesTest runs one rule file, whatever its type, over events and
// prints the alerts it would raise: ECS documents (a JSON array or JSON
// lines, as `query` reads them) go straight to the engine; osquery results
// logs go through the same normalizer as `scan`. Windows (maxspan, the
// new-terms history window, threshold and max_signals per interval) run on
// event time.
func runRulesTest(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("rules test", rulesTestUsage, io.err)
	rulePath := fs.String("rule", "", "the rule TOML file to test")
	input := fs.String("input", "auto", "what the files hold: ecs events, an osquery results log, or auto (decided from the first line)")
	format := fs.String("format", "jsonl", "output format: jsonl or table")
	timestampField := fs.String("timestamp-field", "@timestamp", "ECS events: field holding each event's time (ISO-8601 or epoch ms)")
	tiebreakerField := fs.String("tiebreaker-field", "", "ECS events: field ordering events that share a timestamp")
	noRateLimit := fs.Bool("no-rate-limit", false, "do not apply the rule's max_signals per interval")
	files, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if *rulePath == "" || len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	if *format != "jsonl" && *format != "table" {
		fmt.Fprintf(io.err, "osqdetect rules test: --format must be jsonl or table, not %q\n", *format)
		return exitUsage
	}
	kind := *input
	switch kind {
	case "ecs", "osquery":
	case "auto":
		var err error
		if kind, err = detectInput(files[0]); err != nil {
			fmt.Fprintf(io.err, "osqdetect rules test: %v\n", err)
			return exitUsage
		}
	default:
		fmt.Fprintf(io.err, "osqdetect rules test: --input must be auto, ecs or osquery, not %q\n", *input)
		return exitUsage
	}
	set, err := rules.Load([]string{*rulePath}, rules.LoadOptions{SkipBuiltin: true})
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect rules test: %v\n", err)
		return exitUsage
	}
	for _, st := range set.Rejected() {
		fmt.Fprintf(io.err, "osqdetect rules test: rule rejected: %s\n", st.Error)
	}
	if len(set.Rules) == 0 {
		fmt.Fprintf(io.err, "osqdetect rules test: %s holds no rule that loads\n", *rulePath)
		return exitUsage
	}
	for _, st := range set.Status {
		if !st.Rejected && st.Error != "" {
			fmt.Fprintf(io.err, "osqdetect rules test: note: %s: %s\n", st.Meta.Name, st.Error)
		}
	}
	if kind == "osquery" {
		scanArgs := []string{"--no-builtin", "--rules", *rulePath, "--format", *format}
		if *noRateLimit {
			scanArgs = append(scanArgs, "--no-rate-limit")
		}
		return runScan(ctx, append(scanArgs, files...), io)
	}

	engine := detect.NewEngine(set.Rules, detect.Options{DisableRateLimit: *noRateLimit})
	out := newAlertWriter(io.out, *format)
	alerts, events, bad := 0, 0, 0
	emit := func(a *detect.Alert) {
		alerts++
		out.add(a)
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(io.err, "osqdetect rules test: %v\n", err)
			return exitUsage
		}
		evs, badEvents, err := eventfile.Read(f, path, eventfile.Options{
			TimestampField:   *timestampField,
			TiebreakerField:  *tiebreakerField,
			RequireTimestamp: true,
		})
		f.Close()
		if err != nil {
			fmt.Fprintf(io.err, "osqdetect rules test: %v\n", err)
			var tooLarge *eventfile.TooLargeError
			if errors.As(err, &tooLarge) {
				return exitUsage
			}
			return exitFailure
		}
		for _, e := range badEvents {
			fmt.Fprintf(io.err, "osqdetect rules test: skipped %v\n", e)
		}
		bad += len(badEvents)
		for _, ev := range evs {
			if ctx.Err() != nil {
				return exitFailure
			}
			events++
			engine.Process(ev.Event, emit)
		}
	}
	if err := out.flush(); err != nil {
		fmt.Fprintf(io.err, "osqdetect rules test: writing alerts: %v\n", err)
		return exitFailure
	}
	st := engine.Stats()
	fmt.Fprintf(io.err, "%d events read, %d alerts (%d suppressed by max_signals), %d bad events skipped\n", events, alerts, st.Suppressed, bad)
	if st.DroppedSequences > 0 {
		fmt.Fprintf(io.err, "osqdetect rules test: %d partial sequences were dropped at the pending bound: alerts may be missing\n", st.DroppedSequences)
		return exitFailure
	}
	if bad > 0 {
		return exitUsage
	}
	return exitOK
}

// detectInput tells an osquery results log (its lines carry a query name
// and columns, diffResults or snapshot) from ECS events.
func detectInput(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	first, err := br.Peek(64 << 10)
	if len(first) == 0 && err != nil {
		return "", fmt.Errorf("reading %s: %v", path, err)
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	trimmed := bytes.TrimSpace(first)
	if bytes.HasPrefix(trimmed, []byte("{")) && bytes.Contains(trimmed, []byte(`"name"`)) &&
		(bytes.Contains(trimmed, []byte(`"columns"`)) || bytes.Contains(trimmed, []byte(`"diffResults"`)) || bytes.Contains(trimmed, []byte(`"snapshot"`))) {
		return "osquery", nil
	}
	return "ecs", nil
}
