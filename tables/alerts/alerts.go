// Package alerts is the osquery `alerts` table: one row per stored alert.
//
// WHERE constraints on time (=, >, >=, <, <=), rule_id (=), severity (=)
// and id (=) are pushed down to the alert store, so
// `SELECT * FROM alerts WHERE time > 1700000000` reads only the newest
// alerts through the store's time index. Every other constraint is left to
// SQLite. Constraint values are untrusted; see package constraint.
package alerts

import (
	"context"
	"fmt"

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
	alerts, err := src.Alerts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	rows := make([]map[string]string, 0, len(alerts))
	for _, a := range alerts {
		rows = append(rows, a.Row())
	}
	return rows, nil
}

// Query turns osquery's constraints into a store query. none is true when
// the constraints can match no alert, so the store need not be read.
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
		set := constraint.Strings(cl, constraint.IsUUID)
		if set.None() {
			return q, true
		}
		q.IDs = set.Values
	}
	if cl, ok := qc.Constraints["rule_id"]; ok {
		set := constraint.Strings(cl, func(s string) bool { return s != "" && len(s) <= store.MaxRuleIDLen })
		if set.None() {
			return q, true
		}
		q.RuleIDs = set.Values
	}
	if cl, ok := qc.Constraints["severity"]; ok {
		set := constraint.Strings(cl, constraint.OneOf(Severities...))
		if set.None() {
			return q, true
		}
		q.Severities = set.Values
	}
	return q, false
}
