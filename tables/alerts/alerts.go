// Package alerts is the osquery `alerts` table: one row per stored alert.
//
// WHERE constraints on time (=, >, >=, <, <=), rule_id (=), severity (=)
// and id (=) are pushed down to the alert store, so
// `SELECT * FROM alerts WHERE time > 1700000000` reads only the newest
// alerts through the store's time index. Every other constraint is left to
// SQLite. Constraint values are untrusted; see package constraint.
//
// A pushed-down filter only ever narrows to a superset of what SQLite keeps:
// SQLite applies the whole WHERE clause again to the rows returned, but it
// does not tell a table the collation of a comparison, so
// `severity = 'HIGH' COLLATE NOCASE` arrives as severity = "HIGH". Text
// equality is therefore matched folded: ASCII case (NOCASE) and trailing
// spaces (RTRIM), the two collations SQLite has besides BINARY.
//
// Columns the query does not use (osquery's colsUsed) are not built: the
// `events` column, most of an alert's bytes, is not even decoded.
package alerts

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/extension/store"
	"github.com/osqdetect/osqdetect/tables/constraint"
	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// Name is the table's name in osquery.
const Name = "alerts"

// Source is where the table reads alerts; *store.Store satisfies it.
type Source interface {
	Alerts(ctx context.Context, q store.AlertQuery) ([]*detect.Alert, error)
	// RuleAlertCounts names every rule with stored alerts (the keys), so
	// a rule_id constraint can be matched without regard to case.
	RuleAlertCounts(ctx context.Context) (map[string]store.RuleCount, error)
}

// Severities are the values the severity column can hold (the rule loader
// accepts no others).
var Severities = []string{"low", "medium", "high", "critical"}

// Spec is the table's contract. Column names and order are fixed: users'
// queries and Fleet reports depend on them.
func Spec() tablewrap.Spec {
	T, I, B := tablewrap.Text, tablewrap.Integer, tablewrap.BigInt
	return tablewrap.Spec{
		Name:        Name,
		Description: "Alerts raised by osqdetect's detection rules on this host, one row per alert.",
		Columns: []tablewrap.Column{
			T("id", "Alert id: a UUID derived from the rule and the matched events, stable across re-processing."),
			B("time", "Unix time (seconds) of the event that completed the match."),
			T("rule_id", "Id of the rule that matched."),
			T("rule_name", "Name of the rule."),
			T("rule_type", "Rule type: query, eql or new_terms."),
			T("severity", "Rule severity: low, medium, high or critical."),
			I("risk_score", "Rule risk score, 0 to 100."),
			T("tactics", "MITRE ATT&CK tactic ids, comma-separated."),
			T("techniques", "MITRE ATT&CK technique ids, comma-separated."),
			T("host_id", "Host identifier (osquery's system UUID)."),
			B("pid", "Process id of the alert's process."),
			T("process_executable", "Executable path of the alert's process."),
			T("process_name", "Executable name of the alert's process."),
			T("process_command_line", "Command line of the alert's process."),
			B("parent_pid", "Parent process id."),
			T("parent_executable", "Parent executable path."),
			T("parent_name", "Parent executable name."),
			T("user_id", "User id the process ran as."),
			T("destination_ip", "Remote address, for network alerts."),
			I("destination_port", "Remote port, for network alerts."),
			T("reason", "One sentence saying what happened."),
			T("events", "JSON array of the matched events (ECS fields), in sequence order."),
		},
	}
}

// New returns the guarded alerts table reading from src.
func New(src Source, opts tablewrap.Options) *tablewrap.Table {
	return tablewrap.New(Spec(), func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
		return generate(ctx, src, qc)
	}, opts)
}

func generate(ctx context.Context, src Source, qc table.QueryContext) ([]map[string]string, error) {
	q, none := Query(qc)
	if none {
		return []map[string]string{}, nil
	}
	if len(q.RuleIDs) > 0 {
		if q.RuleIDs, none = storedRuleIDs(ctx, src, q.RuleIDs); none {
			return []map[string]string{}, nil
		}
	}
	used := usedColumns(ctx)
	q.WithoutEvents = !used[eventsColumn]
	alerts, err := src.Alerts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	rows := make([]map[string]string, len(alerts))
	in := interner{}
	for i, a := range alerts {
		rows[i] = row(a, used, in)
		alerts[i] = nil // the row keeps what it needs
	}
	return rows, nil
}

// interner shares one copy of a value among the rows of one read: rule
// names, hosts, parents and the like repeat across many alerts, and each
// decoded alert brought its own copy.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// maxInterned bounds the interner of one read.
const maxInterned = 4096

// storedRuleIDs turns folded rule_id constraint values into the stored
// rule ids they may equal under any collation. none is true when no stored
// rule can match.
func storedRuleIDs(ctx context.Context, src Source, folded []string) (ids []string, none bool) {
	counts, err := src.RuleAlertCounts(ctx)
	if err != nil {
		return nil, false // no narrowing: the store is read in full
	}
	want := make(map[string]bool, len(folded))
	for _, v := range folded {
		want[v] = true
	}
	for id := range counts {
		if want[fold(id)] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, len(ids) == 0
}

const eventsColumn = "events"

// columns builds each column's text from an alert. shared columns
// usually repeat across alerts and are interned.
var columns = []struct {
	name   string
	text   func(a *detect.Alert) string
	shared bool
}{
	{"id", func(a *detect.Alert) string { return a.ID }, false},
	{"time", func(a *detect.Alert) string { return strconv.FormatInt(a.Time, 10) }, false},
	{"rule_id", func(a *detect.Alert) string { return a.RuleID }, true},
	{"rule_name", func(a *detect.Alert) string { return a.RuleName }, true},
	{"rule_type", func(a *detect.Alert) string { return a.RuleType }, true},
	{"severity", func(a *detect.Alert) string { return a.Severity }, true},
	{"risk_score", func(a *detect.Alert) string { return strconv.Itoa(a.RiskScore) }, true},
	{"tactics", func(a *detect.Alert) string { return a.Tactics }, true},
	{"techniques", func(a *detect.Alert) string { return a.Techniques }, true},
	{"host_id", func(a *detect.Alert) string { return a.HostID }, true},
	{"pid", func(a *detect.Alert) string { return strconv.FormatInt(a.Pid, 10) }, false},
	{"process_executable", func(a *detect.Alert) string { return a.ProcessExecutable }, true},
	{"process_name", func(a *detect.Alert) string { return a.ProcessName }, true},
	{"process_command_line", func(a *detect.Alert) string { return a.ProcessCommandLine }, false},
	{"parent_pid", func(a *detect.Alert) string { return strconv.FormatInt(a.ParentPid, 10) }, false},
	{"parent_executable", func(a *detect.Alert) string { return a.ParentExecutable }, true},
	{"parent_name", func(a *detect.Alert) string { return a.ParentName }, true},
	{"user_id", func(a *detect.Alert) string { return a.UserID }, true},
	{"destination_ip", func(a *detect.Alert) string { return a.DestinationIP }, true},
	{"destination_port", func(a *detect.Alert) string { return strconv.FormatInt(a.DestinationPort, 10) }, true},
	{"reason", func(a *detect.Alert) string { return a.Reason }, false},
	// The alert was decoded for this row alone and is dropped after it:
	// its events bytes become the row's string without a second copy.
	{eventsColumn, func(a *detect.Alert) string { return unsafe.String(unsafe.SliceData(a.Events), len(a.Events)) }, false},
}

// usedColumns is the set of columns the query reads.
func usedColumns(ctx context.Context) map[string]bool {
	used := make(map[string]bool, len(columns))
	for _, c := range columns {
		if tablewrap.ColumnsUsed(ctx, c.name) {
			used[c.name] = true
		}
	}
	return used
}

// row renders the used columns of an alert as an osquery row.
func row(a *detect.Alert, used map[string]bool, in interner) map[string]string {
	r := make(map[string]string, len(used))
	for _, c := range columns {
		if !used[c.name] {
			continue
		}
		v := c.text(a)
		if c.shared {
			v = in.get(v)
		}
		r[c.name] = v
	}
	return r
}

// fold maps a text to what SQLite's NOCASE and RTRIM collations compare:
// ASCII letters lower-cased, trailing spaces removed. Two texts equal under
// BINARY, NOCASE or RTRIM have equal folds.
func fold(s string) string {
	return strings.TrimRight(asciiLower(s), " ")
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// folded folds a validator's input first.
func folded(valid func(string) bool) func(string) bool {
	return func(s string) bool { return valid(fold(s)) }
}

// foldValues folds and de-duplicates equality values.
func foldValues(values []string) []string {
	if len(values) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if f := fold(v); !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// Query turns osquery's constraints into a store query. none is true when
// the constraints can match no alert, so the store need not be read. Text
// values come back folded (see fold); stored ids and severities are
// already in folded form, rule ids are not (see storedRuleIDs).
func Query(qc table.QueryContext) (q store.AlertQuery, none bool) {
	if cl, ok := qc.Constraints["time"]; ok {
		r := constraint.Ints(cl)
		if r.Empty() {
			return q, true
		}
		if r.Bounded() {
			q.MinTime, q.MaxTime = r.Min, r.Max
			q.HasMinTime, q.HasMaxTime = true, true
		}
	}
	if cl, ok := qc.Constraints["id"]; ok {
		set := constraint.Strings(cl, folded(constraint.IsUUID))
		if set.None() {
			return q, true
		}
		q.IDs = foldValues(set.Values)
	}
	if cl, ok := qc.Constraints["rule_id"]; ok {
		set := constraint.Strings(cl, folded(func(s string) bool { return s != "" && len(s) <= store.MaxRuleIDLen }))
		if set.None() {
			return q, true
		}
		q.RuleIDs = foldValues(set.Values)
	}
	if cl, ok := qc.Constraints["severity"]; ok {
		set := constraint.Strings(cl, folded(constraint.OneOf(Severities...)))
		if set.None() {
			return q, true
		}
		q.Severities = foldValues(set.Values)
	}
	return q, false
}
