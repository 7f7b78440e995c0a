package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/fleet"
)

func init() {
	register("hunt", "run SQL or an alerts search on many hosts through Fleet", runHunt)
}

const huntUsage = `hunt [--sql 'SELECT ...' | --rule ID --severity LEVEL --since DURATION]
             (--hosts H,... | --labels L,... | --team T,...) [--timeout 60s] [--wait-offline]
             [--format table|jsonl|csv] [--context NAME] [--config FILE] [--rootca FILE] [--insecure]

Runs a Fleet live query and prints every host's rows, tagged with fleet_hostname
and fleet_host_id, then a per-host summary on stderr. Without --sql it searches
the alerts table (default: the last 24h). Credentials: FLEET_URL and
FLEET_API_TOKEN, else fleetctl's config file (~/.fleet/config).

Exit codes: 0 every targeted host answered, 3 partial (some hosts offline,
timed out, without the extension or failing), 1 the hunt could not run,
2 bad usage.`

// huntNow is the clock --since counts back from.
var huntNow = time.Now

// maxTableRows bounds what --format table holds in memory to align columns.
const maxTableRows = 10000

func runHunt(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("hunt", huntUsage, io.err)
	sql := fs.String("sql", "", "SQL to run on every host")
	rule := fs.String("rule", "", "alerts of this rule id")
	severity := fs.String("severity", "", "alerts of this severity or higher: low, medium, high, critical")
	since := fs.Duration("since", 0, "alerts from the last DURATION (e.g. 24h); default 24h when no --sql")
	var hosts, labels, teams stringList
	fs.Var(&hosts, "hosts", "hostnames, UUIDs or serials, comma-separated (repeatable)")
	fs.Var(&labels, "labels", "label names, comma-separated (repeatable)")
	fs.Var(&teams, "team", "team (fleet) names or ids, comma-separated (repeatable)")
	timeout := fs.Duration("timeout", 60*time.Second, "stop waiting for hosts after this long")
	waitOffline := fs.Bool("wait-offline", false, "keep waiting, until --timeout, for hosts offline at the start")
	format := fs.String("format", "table", "output: table, jsonl or csv")
	cfgPath := fs.String("config", "", "fleetctl config file (default ~/.fleet/config)")
	ctxName := fs.String("context", "", "fleetctl config context (default \"default\")")
	rootCA := fs.String("rootca", "", "PEM file of the CA that signed Fleet's certificate")
	insecure := fs.Bool("insecure", false, "do not verify Fleet's TLS certificate (test servers only)")
	quiet := fs.Bool("quiet", false, "no summary on stderr")
	rest, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(io.err, "osqdetect hunt: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) > 0 {
		return usageErr("unexpected argument %q (quote the SQL and pass it with --sql)", rest[0])
	}
	switch *format {
	case "table", "jsonl", "csv":
	default:
		return usageErr("--format must be table, jsonl or csv, not %q", *format)
	}
	if *timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	shortcuts := *rule != "" || *severity != "" || *since != 0
	query := strings.TrimSpace(*sql)
	if query != "" && shortcuts {
		return usageErr("--sql cannot be combined with --rule, --severity or --since")
	}
	if query == "" {
		f := fleet.AlertFilter{RuleID: *rule, MinSeverity: *severity, Since: *since, Now: huntNow()}
		if !shortcuts {
			f.Since = 24 * time.Hour
		}
		var err error
		if query, err = fleet.AlertsQuery(f); err != nil {
			return usageErr("%v", err)
		}
	}
	targets := fleet.Targets{Hosts: splitList(hosts), Labels: splitList(labels), Teams: splitList(teams)}
	if targets.Empty() {
		return usageErr("give at least one of --hosts, --labels or --team")
	}

	creds, err := fleet.LoadCredentials(fleet.CredentialSource{ConfigPath: *cfgPath, Context: *ctxName})
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitFailure
	}
	opts := creds.Options()
	if *rootCA != "" {
		opts = append(opts, fleet.WithRootCA(*rootCA))
	}
	if *insecure {
		opts = append(opts, fleet.WithInsecureSkipVerify())
	}
	client, err := fleet.NewClient(creds.Address, opts...)
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitFailure
	}

	out := newRowWriter(*format, io.out, io.err)
	prog := newProgressLine(io.err)
	sum, err := client.Hunt(ctx, fleet.HuntOptions{
		SQL:            query,
		Targets:        targets,
		Timeout:        *timeout,
		WaitForOffline: *waitOffline,
		OnResult: func(r fleet.HostResult) {
			for _, row := range r.Rows {
				out.write(r.Host, row)
			}
			prog.update(nil)
		},
		OnProgress: func(p fleet.Progress) { prog.update(&p) },
	})
	prog.clear()
	if ferr := out.flush(); ferr != nil && err == nil {
		fmt.Fprintf(io.err, "osqdetect hunt: writing output: %v\n", ferr)
		return exitFailure
	}
	if sum == nil {
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitFailure
	}
	if !*quiet {
		writeHuntSummary(io.err, sum)
	}
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitFailure
	}
	// Hosts that were offline, timed out, lack the extension or answered
	// with an error are tolerated: the summary above names them. A broken
	// result stream is a failure, although the rows that came are printed.
	if len(sum.StreamErrors) > 0 {
		fmt.Fprintf(io.err, "osqdetect hunt: Fleet's result stream reported %d error(s); the results may be incomplete\n", len(sum.StreamErrors))
		return exitFailure
	}
	return exitOK
}

// splitList splits each value on commas and drops empty items.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// orderColumns puts the alerts columns in their documented order, then any
// other columns sorted by name.
func orderColumns(row fleet.Row) []string {
	cols := make([]string, 0, len(row))
	known := make(map[string]bool, len(detect.AlertColumns))
	for _, c := range detect.AlertColumns {
		known[c] = true
		if _, ok := row[c]; ok {
			cols = append(cols, c)
		}
	}
	var other []string
	for c := range row {
		if !known[c] {
			other = append(other, c)
		}
	}
	sort.Strings(other)
	return append(cols, other...)
}

// rowWriter prints result rows as they arrive (jsonl, csv) or at the end
// (table, which must see every row to align columns).
type rowWriter struct {
	format  string
	w       io.Writer
	errw    io.Writer
	cols    []string // csv and table: columns fixed by the first row
	csv     *csv.Writer
	table   [][]string
	dropped int // table rows beyond maxTableRows
	extra   map[string]bool
	err     error
}

func newRowWriter(format string, w, errw io.Writer) *rowWriter {
	rw := &rowWriter{format: format, w: w, errw: errw, extra: map[string]bool{}}
	if format == "csv" {
		rw.csv = csv.NewWriter(w)
	}
	return rw
}

func (rw *rowWriter) write(h fleet.Host, row fleet.Row) {
	if rw.err != nil {
		return
	}
	name, id := h.Name(), strconv.FormatUint(uint64(h.ID), 10)
	if rw.format == "jsonl" {
		rw.err = writeJSONLine(rw.w, name, id, row)
		return
	}
	if rw.cols == nil {
		rw.cols = orderColumns(row)
		header := append([]string{"fleet_hostname", "fleet_host_id"}, rw.cols...)
		if rw.format == "csv" {
			rw.err = rw.csv.Write(header)
		} else {
			rw.table = append(rw.table, header)
		}
	}
	for c := range row {
		if !containsString(rw.cols, c) {
			rw.extra[c] = true
		}
	}
	rec := make([]string, 0, len(rw.cols)+2)
	rec = append(rec, name, id)
	for _, c := range rw.cols {
		rec = append(rec, row[c])
	}
	if rw.format == "csv" {
		rw.err = rw.csv.Write(rec)
		return
	}
	if len(rw.table) > maxTableRows {
		rw.dropped++
		return
	}
	rw.table = append(rw.table, rec)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeJSONLine(w io.Writer, host, id string, row fleet.Row) error {
	var b strings.Builder
	b.WriteString(`{"fleet_hostname":`)
	appendJSONString(&b, host)
	b.WriteString(`,"fleet_host_id":`)
	b.WriteString(id)
	for _, c := range orderColumns(row) {
		b.WriteByte(',')
		appendJSONString(&b, c)
		b.WriteByte(':')
		appendJSONString(&b, row[c])
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func appendJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

func (rw *rowWriter) flush() error {
	if rw.err != nil {
		return rw.err
	}
	switch rw.format {
	case "csv":
		rw.csv.Flush()
		rw.err = rw.csv.Error()
	case "table":
		if len(rw.table) > 0 {
			tw := tabwriter.NewWriter(rw.w, 0, 0, 2, ' ', 0)
			for _, rec := range rw.table {
				for i, cell := range rec {
					if i > 0 {
						io.WriteString(tw, "\t")
					}
					io.WriteString(tw, tableCell(cell))
				}
				io.WriteString(tw, "\n")
			}
			rw.err = tw.Flush()
		}
		if rw.dropped > 0 {
			fmt.Fprintf(rw.errw, "osqdetect hunt: table shows the first %d rows; %d more not shown (use --format jsonl or csv)\n", maxTableRows, rw.dropped)
		}
	}
	if len(rw.extra) > 0 && rw.format != "jsonl" {
		names := make([]string, 0, len(rw.extra))
		for c := range rw.extra {
			names = append(names, c)
		}
		sort.Strings(names)
		fmt.Fprintf(rw.errw, "osqdetect hunt: some rows had columns the first row lacked (%s); they are not in the %s output (use --format jsonl)\n",
			strings.Join(names, ", "), rw.format)
	}
	return rw.err
}

// tableCell keeps a cell on one line and at most 60 characters.
func tableCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:59]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// progressLine redraws one status line on stderr while hosts answer, only
// when stderr is a terminal.
type progressLine struct {
	w     io.Writer
	on    bool
	last  time.Time
	p     fleet.Progress
	drawn bool
}

func newProgressLine(w io.Writer) *progressLine {
	return &progressLine{w: w, on: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (pl *progressLine) update(p *fleet.Progress) {
	if !pl.on {
		return
	}
	if p != nil {
		pl.p = *p
	}
	if now := time.Now(); now.Sub(pl.last) >= 100*time.Millisecond {
		pl.last = now
		fmt.Fprintf(pl.w, "\r\033[Khunt: %d/%d hosts answered (%d online, %d offline), %d errors",
			pl.p.Answered, pl.p.Targeted, pl.p.Online, pl.p.Offline, pl.p.Errors)
		pl.drawn = true
	}
}

func (pl *progressLine) clear() {
	if pl.drawn {
		fmt.Fprint(pl.w, "\r\033[K")
	}
}

// maxSummaryHosts bounds the per-host lines of the summary.
const maxSummaryHosts = 50

func writeHuntSummary(w io.Writer, s *fleet.HuntSummary) {
	offline := min(s.Offline, s.Silent)
	timedOut := s.Silent - offline
	fmt.Fprintf(w, "hunt: %d of %d targeted hosts answered: %d with rows (%s), %d empty, %d extension missing, %d error; %d offline, %d timed out\n",
		s.Answered, s.Targeted, s.Count(fleet.StatusRows), plural(int(s.Rows), "row"), s.Count(fleet.StatusEmpty),
		s.Count(fleet.StatusExtensionMissing), s.Count(fleet.StatusError), offline, timedOut)
	var lines []fleet.HostOutcome
	for _, h := range s.Hosts {
		if h.Status != fleet.StatusEmpty {
			lines = append(lines, h)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].Status != lines[j].Status {
			return lines[i].Status > lines[j].Status // errors first
		}
		return lines[i].Host.Name() < lines[j].Host.Name()
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, h := range lines {
		if i == maxSummaryHosts {
			fmt.Fprintf(tw, "  ... %d more hosts\n", len(lines)-i)
			break
		}
		detail := plural(h.Rows, "row")
		if h.Error != "" {
			detail = tableCell(h.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Host.Name(), h.Status, detail)
	}
	tw.Flush()
	if len(s.Unanswered) > 0 {
		names := s.Unanswered
		more := ""
		if len(names) > maxSummaryHosts {
			more = fmt.Sprintf(" and %d more", len(names)-maxSummaryHosts)
			names = names[:maxSummaryHosts]
		}
		fmt.Fprintf(w, "  not answered: %s%s\n", strings.Join(names, ", "), more)
	}
	if s.TimedOut && timedOut > 0 {
		fmt.Fprintf(w, "  stopped at --timeout with %s online but silent\n", plural(int(timedOut), "host"))
	}
	for _, e := range s.StreamErrors {
		fmt.Fprintf(w, "  fleet error: %s\n", e)
	}
	if n := s.Count(fleet.StatusExtensionMissing); n > 0 {
		fmt.Fprintf(w, "  %s without the osqdetect extension; target the label from 'osqdetect fleet export' to skip them\n", plural(n, "host"))
	}
}

// plural writes "1 row", "2 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
