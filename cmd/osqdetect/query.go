package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/detect/eql"
	"github.com/osqdetect/osqdetect/detect/eventfile"
	"github.com/osqdetect/osqdetect/detect/kql"
)

func init() {
	register("query", "run one KQL or EQL query over a JSON file of events", runQuery)
}

const queryUsage = "query --lang kql|eql [--event-category-field F] [--timestamp-field F] [--tiebreaker-field F] EVENTS.json 'QUERY'"

// queryMaxPending bounds the partial sequences `query` holds (each keeps
// its events packed, some hundred bytes to a few kilobytes).
var queryMaxPending = 1 << 18

func runQuery(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("query", queryUsage, io.err)
	lang := fs.String("lang", "", "query language: kql or eql")
	categoryField := fs.String("event-category-field", "event.category", "field EQL's 'X where' tests")
	timestampField := fs.String("timestamp-field", "@timestamp", "field holding each event's time (ISO-8601 or epoch ms)")
	tiebreakerField := fs.String("tiebreaker-field", "", "field ordering events that share a timestamp")
	rest, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(rest) != 2 {
		fs.Usage()
		return exitUsage
	}
	path, src := rest[0], rest[1]

	var single ecs.Predicate
	var q *eql.Query
	switch *lang {
	case "kql":
		kq, err := kql.Compile(src)
		if err != nil {
			fmt.Fprintf(io.err, "osqdetect query: %v\n", err)
			return exitUsage
		}
		single = kq.Match
	case "eql":
		var err error
		q, err = eql.Compile(src, eql.Options{CategoryField: *categoryField})
		if err != nil {
			fmt.Fprintf(io.err, "osqdetect query: %v\n", err)
			return exitUsage
		}
		single = q.Event
	default:
		fmt.Fprintf(io.err, "osqdetect query: --lang must be kql or eql\n")
		return exitUsage
	}

	var in = io.in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(io.err, "osqdetect query: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in = f
	}
	events, badEvents, err := eventfile.Read(in, path, eventfile.Options{
		TimestampField:   *timestampField,
		TiebreakerField:  *tiebreakerField,
		RequireTimestamp: *lang == "eql",
	})
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect query: %v\n", err)
		var tooLarge *eventfile.TooLargeError
		if errors.As(err, &tooLarge) {
			return exitUsage
		}
		return exitFailure
	}
	for _, e := range badEvents {
		fmt.Fprintf(io.err, "osqdetect query: skipped %v\n", e)
	}

	var matches [][]eventfile.Event
	if q != nil && q.Sequence != nil {
		bySeq := make(map[uint64]eventfile.Event, len(events))
		for _, ev := range events {
			bySeq[ev.Seq] = ev
		}
		// Elasticsearch's EQL search keeps a partial sequence until the
		// data ends (maxspan, when given, is the only window), so no time
		// bound applies here; the count of partial sequences is bounded,
		// and reaching the bound is an error, never a quietly smaller
		// answer. Rules are different: their look-back (`from`) bounds a
		// sequence, as Kibana's does.
		m := q.Sequence.NewMatcher(eql.Limits{MaxPending: queryMaxPending, NoSpanTTL: -1})
		for _, ev := range events {
			if ctx.Err() != nil {
				return exitFailure
			}
			for _, seq := range m.Push(ev.Event) {
				matches = append(matches, resolve(seq, bySeq))
			}
			if m.Dropped() > 0 {
				fmt.Fprintf(io.err, "osqdetect query: more than %d partial sequences pending at %s line %d: the answer would be incomplete; narrow the query (maxspan, by keys) or the events\n", queryMaxPending, path, ev.Line)
				return exitFailure
			}
		}
	} else {
		for _, ev := range events {
			if single(ev.Event) {
				matches = append(matches, []eventfile.Event{ev})
			}
		}
	}
	if q != nil {
		from, to := eql.ApplyPipes(q.Pipes, len(matches))
		matches = matches[from:to]
	}

	w := bufio.NewWriter(io.out)
	for _, m := range matches {
		for _, ev := range m {
			w.Write(ev.Raw)
			w.WriteByte('\n')
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(io.err, "osqdetect query: writing results: %v\n", err)
		return exitFailure
	}
	kind := "events"
	if q != nil && q.Sequence != nil {
		kind = "sequences"
	}
	fmt.Fprintf(io.err, "%d events read, %d %s matched, %d bad events skipped\n", len(events), len(matches), kind, len(badEvents))
	if len(badEvents) > 0 {
		return exitUsage
	}
	return exitOK
}

// resolve maps the events of a sequence back to the file's events by
// their stream position: the matcher keeps its own copies.
func resolve(seq []*ecs.Event, bySeq map[uint64]eventfile.Event) []eventfile.Event {
	out := make([]eventfile.Event, 0, len(seq))
	for _, ev := range seq {
		out = append(out, bySeq[ev.Seq])
	}
	return out
}
