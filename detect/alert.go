package detect

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// RuleMeta is what a rule file says about a rule besides its query: the
// metadata every alert carries and the schedule Kibana would have used.
type RuleMeta struct {
	ID          string   `json:"rule_id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type"`     // query, eql, new_terms, threshold
	Language    string   `json:"language"` // kuery, eql
	Query       string   `json:"query"`
	Severity    string   `json:"severity"` // low, medium, high, critical
	RiskScore   int      `json:"risk_score"`
	Tactics     []string `json:"tactics,omitempty"`    // MITRE tactic ids, e.g. TA0005
	Techniques  []string `json:"techniques,omitempty"` // MITRE technique ids, e.g. T1574
	Tags        []string `json:"tags,omitempty"`
	Version     int      `json:"version,omitempty"`
	// From is the look-back of one Kibana run ("now-9m" is 9 minutes).
	From time.Duration `json:"from,omitempty"`
	// Interval is how often Kibana runs the rule (default 5m).
	Interval time.Duration `json:"interval,omitempty"`
	// MaxSignals is the most alerts one run may create (default 100).
	MaxSignals int `json:"max_signals,omitempty"`
	// NewTermsFields and HistoryWindow are set for new_terms rules.
	NewTermsFields []string      `json:"new_terms_fields,omitempty"`
	HistoryWindow  time.Duration `json:"history_window,omitempty"`
	// Source is "builtin" or the path of the rule file.
	Source string `json:"source"`
}

// Alert is one detection. Its JSON keys are the columns of the alerts table.
type Alert struct {
	ID                 string          `json:"id"`
	Time               int64           `json:"time"` // Unix seconds of the triggering event
	RuleID             string          `json:"rule_id"`
	RuleName           string          `json:"rule_name"`
	RuleType           string          `json:"rule_type"`
	Severity           string          `json:"severity"`
	RiskScore          int             `json:"risk_score"`
	Tactics            string          `json:"tactics"`    // comma-separated MITRE ids
	Techniques         string          `json:"techniques"` // comma-separated MITRE ids
	HostID             string          `json:"host_id"`
	Pid                int64           `json:"pid"`
	ProcessExecutable  string          `json:"process_executable"`
	ProcessName        string          `json:"process_name"`
	ProcessCommandLine string          `json:"process_command_line"`
	ParentPid          int64           `json:"parent_pid"`
	ParentExecutable   string          `json:"parent_executable"`
	ParentName         string          `json:"parent_name"`
	UserID             string          `json:"user_id"`
	DestinationIP      string          `json:"destination_ip"`
	DestinationPort    int64           `json:"destination_port"`
	Reason             string          `json:"reason"`
	Events             json.RawMessage `json:"events"` // JSON array of the matched ECS events
	// TimeMillis keeps the sub-second event time for ordering; not a column.
	TimeMillis int64 `json:"-"`
}

// AlertColumns lists the alerts table columns in their documented order.
var AlertColumns = []string{
	"id", "time", "rule_id", "rule_name", "rule_type", "severity", "risk_score",
	"tactics", "techniques", "host_id", "pid", "process_executable", "process_name",
	"process_command_line", "parent_pid", "parent_executable", "parent_name", "user_id",
	"destination_ip", "destination_port", "reason", "events",
}

// Row renders the alert as an osquery row: every column as a string.
func (a *Alert) Row() map[string]string {
	return map[string]string{
		"id":                   a.ID,
		"time":                 strconv.FormatInt(a.Time, 10),
		"rule_id":              a.RuleID,
		"rule_name":            a.RuleName,
		"rule_type":            a.RuleType,
		"severity":             a.Severity,
		"risk_score":           strconv.Itoa(a.RiskScore),
		"tactics":              a.Tactics,
		"techniques":           a.Techniques,
		"host_id":              a.HostID,
		"pid":                  strconv.FormatInt(a.Pid, 10),
		"process_executable":   a.ProcessExecutable,
		"process_name":         a.ProcessName,
		"process_command_line": a.ProcessCommandLine,
		"parent_pid":           strconv.FormatInt(a.ParentPid, 10),
		"parent_executable":    a.ParentExecutable,
		"parent_name":          a.ParentName,
		"user_id":              a.UserID,
		"destination_ip":       a.DestinationIP,
		"destination_port":     strconv.FormatInt(a.DestinationPort, 10),
		"reason":               a.Reason,
		"events":               string(a.Events),
	}
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
