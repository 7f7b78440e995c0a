// Package detectionrules is the osquery `detection_rules` table: one row
// per rule the extension loaded, disabled or rejected, with its alert
// counts, so `SELECT rule_id, error FROM detection_rules WHERE enabled = 0` lists the
// rules that do not run and why.
package detectionrules

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/osqdetect/osqdetect/tables/tablewrap"
)

// Name is the table's name in osquery.
const Name = "detection_rules"

// Rule is one row: what the rule loader said about a rule plus its alert
// counts.
type Rule struct {
	ID        string
	Name      string
	Type      string // query, eql, new_terms, ...
	Language  string // kuery, eql
	Severity  string
	RiskScore int
	// Enabled is true when the rule runs: loaded, not disabled, not rejected.
	Enabled bool
	// Source is "builtin" or the rule file's path.
	Source string
	// Alerts is how many of the rule's alerts the store holds;
	// LastAlertTime is the newest one's time (Unix seconds, 0 if none).
	Alerts        int64
	LastAlertTime int64
	// Suppressed counts alerts dropped by the rule's rate limit since the
	// extension started.
	Suppressed int64
	// Error is why the rule was rejected or disabled, or which features it
	// lacks; empty for a rule that runs fully.
	Error string
}

// Source lists the rules; the extension runtime provides it.
type Source func(ctx context.Context) ([]Rule, error)

// Spec is the table's contract.
func Spec() tablewrap.Spec {
	T, I, B := tablewrap.Text, tablewrap.Integer, tablewrap.BigInt
	return tablewrap.Spec{
		Name:        Name,
		Description: "Detection rules osqdetect loaded, disabled or rejected, with their alert counts.",
		Columns: []tablewrap.Column{
			T("rule_id", "Rule id."),
			T("name", "Rule name."),
			T("type", "Rule type: query, eql, new_terms, ..."),
			T("language", "Query language: kuery or eql."),
			T("severity", "low, medium, high or critical."),
			I("risk_score", "Risk score, 0 to 100."),
			I("enabled", "1 when the rule runs, 0 when disabled or rejected."),
			T("source", "\"builtin\" or the path of the rule file."),
			B("alerts", "Alerts of this rule in the alert store."),
			B("last_alert_time", "Unix time of the rule's newest stored alert, 0 if none."),
			T("error", "Why the rule was rejected or disabled, or which features it lacks; empty when it runs fully."),
			B("suppressed", "Alerts dropped by the rule's rate limit since the extension started."),
		},
	}
}

// New returns the guarded detection_rules table.
func New(src Source, opts tablewrap.Options) *tablewrap.Table {
	return tablewrap.New(Spec(), func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		rules, err := src(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing rules: %w", err)
		}
		sort.SliceStable(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
		rows := make([]map[string]string, 0, len(rules))
		for _, r := range rules {
			rows = append(rows, r.Row())
		}
		return rows, nil
	}, opts)
}

// Row renders the rule as a table row.
func (r Rule) Row() map[string]string {
	enabled := "0"
	if r.Enabled {
		enabled = "1"
	}
	return map[string]string{
		"rule_id":         r.ID,
		"name":            r.Name,
		"type":            r.Type,
		"language":        r.Language,
		"severity":        r.Severity,
		"risk_score":      strconv.Itoa(r.RiskScore),
		"enabled":         enabled,
		"source":          r.Source,
		"alerts":          strconv.FormatInt(r.Alerts, 10),
		"last_alert_time": strconv.FormatInt(r.LastAlertTime, 10),
		"error":           r.Error,
		"suppressed":      strconv.FormatInt(r.Suppressed, 10),
	}
}
