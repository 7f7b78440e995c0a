package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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
             [--require-all] [--format table|jsonl|csv] [--context NAME] [--config FILE]
             [--rootca FILE] [--insecure] [--quiet]

Runs a Fleet live query and prints every host's rows, tagged with fleet_hostname
and fleet_host_id, then a summary on stderr (JSON lines with --format jsonl).
Without --sql it searches the alerts table (default: the last 24h). --hosts takes
hostnames, UUIDs, hardware serials, osquery host ids or node keys; each is looked
up first, and one that matches no host is reported as unknown. Every host ends
as one of: rows, empty, extension missing, failed, offline, timed out, unknown.
Credentials: FLEET_URL and FLEET_API_TOKEN, else fleetctl's config file
(~/.fleet/config).

Exit codes: 0 the hunt ran (hosts that did not answer are named in the summary),
1 the hunt could not run or Fleet's result stream failed, 2 bad usage or input,
3 with --require-all: some targeted host or identifier did not answer with rows
or an empty result.`

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
	requireAll := fs.Bool("require-all", false, "exit 3 unless every targeted host and identifier answered with rows or an empty result")
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
		if errors.Is(err, fleet.ErrBadConfig) {
			return exitUsage
		}
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
		// A bad address, an unreadable --rootca, plain http to another
		// host: all input the user gave.
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitUsage
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
		if *format == "jsonl" {
			writeHuntSummaryJSON(io.err, sum)
		} else {
			writeHuntSummary(io.err, sum)
		}
	}
	if err != nil {
		fmt.Fprintf(io.err, "osqdetect hunt: %v\n", err)
		return exitFailure
	}
	// Hosts that were offline, timed out, lack the extension or answered
	// with an error are tolerated unless --require-all: the summary above
	// names them. A broken result stream is a failure, although the rows
	// that came are printed.
	if n := len(sum.StreamErrors); n > 0 {
		fmt.Fprintf(io.err, "osqdetect hunt: Fleet's result stream reported %s; the results may be incomplete\n", plural(n, "error"))
		return exitFailure
	}
	if *requireAll && !sum.Complete() {
		fmt.Fprintf(io.err, "osqdetect hunt: --require-all: %s did not answer with rows or an empty result\n", plural(notAnswered(sum), "targeted host or identifier"))
		return exitIncomplete
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
		fmt.Fprintf(pl.w, "\r\033[Khunt: %d of %d targeted hosts answered (%d online, %d offline): %s",
			pl.p.Answered, pl.p.Targeted, pl.p.Online, pl.p.Offline, answerCounts(pl.p.ByStatus))
		pl.drawn = true
	}
}

// answerCounts writes the counts of the answered outcomes, in the words
// the summary uses.
func answerCounts(by [fleet.StatusUnknown + 1]uint) string {
	return fmt.Sprintf("%d %s, %d %s, %d %s, %d %s",
		by[fleet.StatusRows], fleet.StatusRows, by[fleet.StatusEmpty], fleet.StatusEmpty,
		by[fleet.StatusExtensionMissing], fleet.StatusExtensionMissing, by[fleet.StatusFailed], fleet.StatusFailed)
}

func (pl *progressLine) clear() {
	if pl.drawn {
		fmt.Fprint(pl.w, "\r\033[K")
	}
}

// maxSummaryHosts bounds the per-host lines of the summary.
const maxSummaryHosts = 50

// notAnswered counts the targeted hosts and unknown identifiers that did
// not answer with rows or an empty result.
func notAnswered(s *fleet.HuntSummary) int {
	n := int(s.Silent) + len(s.Unknown)
	for _, st := range []fleet.HostStatus{fleet.StatusExtensionMissing, fleet.StatusFailed} {
		n += s.Count(st)
	}
	return n
}

// hostLabel names a host in the summary: the identifier the user typed,
// with Fleet's name when it differs.
func hostLabel(h fleet.HostOutcome) string {
	name := h.Host.Name()
	if len(h.Identifiers) == 0 {
		return name
	}
	label := strings.Join(h.Identifiers, ", ")
	if name != "" && !containsString(h.Identifiers, name) {
		label += " (" + name + ")"
	}
	return label
}

func writeHuntSummary(w io.Writer, s *fleet.HuntSummary) {
	fmt.Fprintf(w, "hunt: %d of %d targeted hosts answered: %d with rows (%s), %d empty, %d extension missing, %d failed; %d offline, %d timed out, %d unknown\n",
		s.Answered, s.Targeted, s.Count(fleet.StatusRows), plural(int(s.Rows), "row"), s.Count(fleet.StatusEmpty),
		s.Count(fleet.StatusExtensionMissing), s.Count(fleet.StatusFailed), s.Count(fleet.StatusOffline),
		s.Count(fleet.StatusTimedOut), s.Count(fleet.StatusUnknown))
	var lines []fleet.HostOutcome
	for _, h := range s.Hosts {
		if listed(h) {
			lines = append(lines, h)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].Status != lines[j].Status {
			return lines[i].Status > lines[j].Status // not answered first
		}
		return hostLabel(lines[i]) < hostLabel(lines[j])
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, h := range lines {
		if i == maxSummaryHosts {
			fmt.Fprintf(tw, "  ... %d more hosts\n", len(lines)-i)
			break
		}
		detail := ""
		switch {
		case h.Error != "":
			detail = tableCell(h.Error)
		case h.Status == fleet.StatusRows:
			detail = plural(h.Rows, "row")
		case h.Status == fleet.StatusUnknown:
			detail = "no host in Fleet has this identifier"
		case h.Status == fleet.StatusOffline:
			detail = "offline when the hunt started"
		case h.Status == fleet.StatusTimedOut:
			detail = "online, no answer before the hunt ended"
		}
		if detail == "" {
			fmt.Fprintf(tw, "  %s\t%s\n", hostLabel(h), h.Status)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", hostLabel(h), h.Status, detail)
	}
	tw.Flush()
	named := 0
	for _, h := range s.Hosts {
		if (h.Status == fleet.StatusOffline || h.Status == fleet.StatusTimedOut) && len(h.Identifiers) > 0 {
			named++
		}
	}
	if other := int(s.Silent) - named; other > 0 {
		fmt.Fprintf(w, "  %s reached through labels or teams did not answer (counted above as offline or timed out)\n", plural(other, "host"))
	}
	if s.TimedOut && s.SilentTimedOut > 0 {
		fmt.Fprintf(w, "  stopped at --timeout with %s online but silent\n", plural(int(s.SilentTimedOut), "host"))
	}
	for _, e := range s.StreamErrors {
		fmt.Fprintf(w, "  fleet error: %s\n", e)
	}
	if n := s.Count(fleet.StatusExtensionMissing); n > 0 {
		fmt.Fprintf(w, "  %s without the osqdetect extension; target the label from 'osqdetect fleet export' to skip them\n", plural(n, "host"))
	}
}

// listed reports whether the summary names a host on its own line: every
// host named with --hosts, and every other host that did not answer with
// an empty result.
func listed(h fleet.HostOutcome) bool {
	return len(h.Identifiers) > 0 || h.Status != fleet.StatusEmpty
}

// writeHuntSummaryJSON writes the summary as JSON lines: one record per
// host the text summary lists, then one record of totals, with the outcome
// words of the text summary.
func writeHuntSummaryJSON(w io.Writer, s *fleet.HuntSummary) {
	type hostRecord struct {
		Type        string   `json:"type"`
		Outcome     string   `json:"outcome"`
		Hostname    string   `json:"fleet_hostname,omitempty"`
		HostID      uint     `json:"fleet_host_id,omitempty"`
		Identifiers []string `json:"identifiers,omitempty"`
		Rows        int      `json:"rows"`
		Error       string   `json:"error,omitempty"`
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, h := range s.Hosts {
		if !listed(h) {
			continue
		}
		_ = enc.Encode(hostRecord{Type: "host", Outcome: h.Status.String(), Hostname: h.Host.Name(), HostID: h.Host.ID,
			Identifiers: h.Identifiers, Rows: h.Rows, Error: h.Error})
	}
	outcomes := make(map[string]int, len(fleet.Outcomes))
	for _, st := range fleet.Outcomes {
		outcomes[st.String()] = s.Count(st)
	}
	_ = enc.Encode(struct {
		Type         string         `json:"type"`
		Targeted     uint           `json:"targeted"`
		Answered     uint           `json:"answered"`
		Rows         uint           `json:"rows"`
		Outcomes     map[string]int `json:"outcomes"`
		Unknown      []string       `json:"unknown,omitempty"`
		StreamErrors []string       `json:"stream_errors,omitempty"`
	}{"summary", s.Targeted, s.Answered, s.Rows, outcomes, s.Unknown, s.StreamErrors})
}

// plural writes "1 row", "2 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
