package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/detect"
)

// ExtensionName is the name osqdetect registers with osquery.
const ExtensionName = "osqdetect"

// ExportOptions configures the GitOps YAML, fleetctl apply specs and the
// osquery pack. Zero fields take the defaults noted.
type ExportOptions struct {
	// Rules are listed in comments and descriptions, so a reader of the
	// YAML sees what the alerts table may contain.
	Rules []detect.RuleMeta
	// LabelName names the dynamic label of hosts running the extension
	// (default "osqdetect extension running").
	LabelName string
	// Platform is the osquery platform list of the queries and the policy
	// (default "linux"). The label has none: see labelSpec.
	Platform string
	// StreamInterval is how often the differential query ships new alerts
	// (default 60 s).
	StreamInterval time.Duration
	// ReportInterval is how often the snapshot queries refresh Fleet's
	// report view (default 1 h).
	ReportInterval time.Duration
	// Window is how far back the queries and the policy look (default 24 h).
	Window time.Duration
	// PolicySeverity: the policy fails on alerts of this severity or higher
	// (default "high").
	PolicySeverity string
	// Team puts the queries and the policy of the fleetctl apply specs on a
	// team; empty means global. GitOps files take their team from the file
	// that references them.
	Team string
	// Settings, when set, is an osqdetect.conf to install on hosts: GitOps
	// export then adds a script that writes it to /etc/osquery/osqdetect.conf.
	// The caller validates it.
	Settings []byte
}

// File is one generated file, its path relative to the output directory.
type File struct {
	Path    string
	Content []byte
}

type exportPlan struct {
	opts     ExportOptions
	label    labelSpec
	queries  []querySpec
	policy   policySpec
	window   int64
	rules    []detect.RuleMeta
	severity []string
}

// labelSpec has no platform on purpose: Fleet sends a dynamic label's
// query only to hosts whose stored platform equals the label's, or to every
// host when it is empty (LabelQueriesForHost in fleetdm/fleet
// server/datastore/mysql/labels.go), and it stores a Linux host's platform
// as its distribution (ubuntu, rhel, debian, ...). A label saved with
// platform "linux" is accepted and never matches a host; without one, the
// SQL decides.
type labelSpec struct {
	Name, Description, Query string
}

type querySpec struct {
	Name, Description, Query, Platform, Logging string
	Interval                                    int64
	ObserverCanRun, AutomationsEnabled, Discard bool
}

type policySpec struct {
	Name, Description, Resolution, Query, Platform string
}

// reportColumns are the alerts columns shown in Fleet's report view: all
// but the bulky events JSON.
var reportColumns = func() []string {
	var cols []string
	for _, c := range detect.AlertColumns {
		if c != "events" {
			cols = append(cols, c)
		}
	}
	return cols
}()

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.,:()/+-]*$`)

func plan(o ExportOptions) (*exportPlan, error) {
	if o.LabelName == "" {
		o.LabelName = "osqdetect extension running"
	}
	if o.Platform == "" {
		o.Platform = "linux"
	}
	if o.StreamInterval == 0 {
		o.StreamInterval = time.Minute
	}
	if o.ReportInterval == 0 {
		o.ReportInterval = time.Hour
	}
	if o.Window == 0 {
		o.Window = 24 * time.Hour
	}
	if o.PolicySeverity == "" {
		o.PolicySeverity = "high"
	}
	if !safeName.MatchString(o.LabelName) {
		return nil, fmt.Errorf("label name %q: use letters, digits, spaces and simple punctuation", o.LabelName)
	}
	if strings.ContainsAny(o.Team, "\n\r") {
		return nil, fmt.Errorf("team name %q contains a line break", o.Team)
	}
	for _, p := range strings.Split(o.Platform, ",") {
		switch strings.TrimSpace(p) {
		case "linux", "darwin", "windows", "chrome":
		default:
			return nil, fmt.Errorf("platform %q is not one of linux, darwin, windows, chrome", p)
		}
	}
	for name, d := range map[string]time.Duration{"stream interval": o.StreamInterval, "report interval": o.ReportInterval} {
		if d < time.Second || d > 7*24*time.Hour || d%time.Second != 0 {
			return nil, fmt.Errorf("%s %v: must be whole seconds between 1s and 168h (osquery's limit)", name, d)
		}
	}
	if o.Window < time.Minute || o.Window%time.Second != 0 {
		return nil, fmt.Errorf("window %v: must be whole seconds, at least 1m", o.Window)
	}
	sev, err := SeveritiesAtLeast(o.PolicySeverity)
	if err != nil {
		return nil, fmt.Errorf("policy severity: %w", err)
	}
	p := &exportPlan{opts: o, window: int64(o.Window / time.Second), severity: sev}
	p.rules = append([]detect.RuleMeta(nil), o.Rules...)
	sort.SliceStable(p.rules, func(i, j int) bool { return p.rules[i].ID < p.rules[j].ID })

	recent := fmt.Sprintf("time >= CAST(strftime('%%s', 'now') AS INTEGER) - %d", p.window)
	win := humanDuration(o.Window)
	p.label = labelSpec{
		Name:        o.LabelName,
		Description: "Hosts where osquery has the osqdetect extension registered, so the alerts, detection_rules and detection_health tables exist.",
		Query:       fmt.Sprintf("SELECT 1 FROM osquery_extensions WHERE name = '%s' AND type = 'extension';", ExtensionName),
	}
	p.queries = []querySpec{
		{
			Name: "osqdetect alerts stream",
			Description: "Ships every new osqdetect alert once to the osquery result log destination. Alert ids are stable, " +
				"so differential logging emits each alert a single time; alerts that age out of the last " + win + " are not logged as removals.",
			Query:              "SELECT * FROM alerts WHERE " + recent + ";",
			Platform:           o.Platform,
			Interval:           int64(o.StreamInterval / time.Second),
			AutomationsEnabled: true,
			Logging:            "differential_ignore_removals",
			Discard:            true,
		},
		{
			Name:           "osqdetect recent alerts",
			Description:    "The osqdetect alerts of the last " + win + ", without their event JSON, for Fleet's report view.",
			Query:          "SELECT " + strings.Join(reportColumns, ", ") + " FROM alerts WHERE " + recent + " ORDER BY time DESC;",
			Platform:       o.Platform,
			Interval:       int64(o.ReportInterval / time.Second),
			ObserverCanRun: true,
			Logging:        "snapshot",
		},
		{
			Name:           "osqdetect health",
			Description:    "osqdetect's own pipeline numbers (rows read, lag, events enabled, errors) for Fleet's report view.",
			Query:          "SELECT * FROM detection_health;",
			Platform:       o.Platform,
			Interval:       int64(o.ReportInterval / time.Second),
			ObserverCanRun: true,
			Logging:        "snapshot",
		},
	}
	quoted := make([]string, len(sev))
	for i, s := range sev {
		quoted[i] = "'" + s + "'"
	}
	p.policy = policySpec{
		Name:        fmt.Sprintf("osqdetect - no %s alerts in the last %s", strings.Join(sev, " or "), win),
		Description: fmt.Sprintf("Fails when osqdetect raised an alert of severity %s on the host in the last %s.", strings.Join(sev, " or "), win),
		Resolution: fmt.Sprintf("Triage the alerts: osqdetect hunt --hosts HOSTNAME --severity %s --since %s, "+
			"or run SELECT * FROM alerts as a live query on the host.", sev[0], shortDuration(o.Window)),
		Query: fmt.Sprintf("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE severity IN (%s) AND %s);",
			strings.Join(quoted, ", "), recent),
		Platform: o.Platform,
	}
	return p, nil
}

// shortDuration writes 24h as "24h" and 90m as "1h30m" (flag syntax).
func shortDuration(d time.Duration) string {
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// humanDuration writes 24h as "24 hours", 90m as "90 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	case d%time.Hour == 0:
		if d == time.Hour {
			return "hour"
		}
		return strconv.FormatInt(int64(d/time.Hour), 10) + " hours"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " minutes"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " seconds"
}

// GitOpsFiles renders the label, queries and policy as `fleetctl gitops`
// library files under lib/osqdetect/, to be referenced with "- path:" from
// default.yml (labels) and from default.yml or a team file (queries and
// policies). fleetctl resolves a path relative to the file that holds it, so
// the comments give both spellings.
func GitOpsFiles(o ExportOptions) ([]File, error) {
	p, err := plan(o)
	if err != nil {
		return nil, err
	}
	var labels, queries, policies bytes.Buffer

	gitopsHeader(&labels, "labels", "labels:", "labels.yml", false)
	labels.WriteString("# Labels are global: keep your other labels listed next to this path, since\n")
	labels.WriteString("# fleetctl gitops removes labels that the labels: key no longer names.\n")
	p.writeLabel(&labels, "- ", "  ")

	gitopsHeader(&queries, "queries", "queries:", "queries.yml", true)
	queries.WriteString("# queries: is what every Fleet release takes; Fleet 4.82 and later also take\n")
	queries.WriteString("# reports: (and warn that queries: is deprecated), older releases reject it.\n")
	p.ruleComments(&queries)
	for _, q := range p.queries {
		p.writeQuery(&queries, q, "- ", "  ", false)
	}

	gitopsHeader(&policies, "policies", "policies:", "policies.yml", true)
	policies.WriteString("# labels_include_any keeps the policy off hosts without osqdetect; Fleet Free\n")
	policies.WriteString("# and Premium both honour it.\n")
	p.writePolicy(&policies, "- ", "  ", false)

	files := []File{
		{Path: "lib/osqdetect/agent-options.yml", Content: agentOptions()},
		{Path: "lib/osqdetect/labels.yml", Content: labels.Bytes()},
		{Path: "lib/osqdetect/policies.yml", Content: policies.Bytes()},
		{Path: "lib/osqdetect/queries.yml", Content: queries.Bytes()},
	}
	if o.Settings != nil {
		script, err := settingsScript(o.Settings)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: "lib/osqdetect/install-osqdetect-conf.sh", Content: script})
	}
	return files, nil
}

// eventFlags are the osqueryd flags osqdetect needs (README, "Turn on the
// events osqdetect reads"). They are command-line flags, which fleetd
// writes to osqueryd's flagfile from agent_options.command_line_flags.
var eventFlags = [][2]string{
	{"disable_events", "false"},
	{"disable_audit", "false"},
	{"audit_allow_config", "true"},
	{"audit_allow_process_events", "true"},
	{"audit_allow_sockets", "true"},
	{"audit_persist", "true"},
	{"events_expiry", "3600"},
}

// agentOptions is the part of Fleet's agent_options that ships osqdetect
// with fleetd: the extension from a TUF server fleetd updates from, and
// the event flags. It is a fragment to merge into an existing
// agent_options, never to apply alone: agent_options and its
// command_line_flags replace what was there.
func agentOptions() []byte {
	var b bytes.Buffer
	b.WriteString(`# osqdetect agent options for Fleet, generated by ` + "`osqdetect fleet export`" + `.
# Merge these keys into the agent_options of default.yml (all hosts) or of a
# team file: agent_options, and command_line_flags inside it, replace what
# was set before, so copy in the flags and options you already have.
# fleetd (Fleet's agent) is required for both keys.
#
# extensions: fleetd downloads osqdetect.ext from your own TUF update server
# and has osqueryd autoload it. Publish each build with
#   fleetctl updates add --path TUF_REPO --target build/osqdetect.ext
#     --name extensions/osqdetect --platform linux --version VERSION
# (one command; the target file name must be osqdetect.ext, the target name
# extensions/osqdetect).
# Without a TUF server, install osqdetect.ext with a package or script
# instead (see the README) and drop this key.
#
# command_line_flags: fleetd writes them to osqueryd's flagfile and restarts
# osqueryd; they turn on the audit-based process and socket events that
# osqdetect reads.
extensions:
  ` + ExtensionName + `:
    channel: stable
    platform: linux
command_line_flags:
`)
	for _, f := range eventFlags {
		b.WriteString("  " + f[0] + ": " + f[1] + "\n")
	}
	return b.Bytes()
}

// settingsDelimiter ends the here-document holding the settings file.
const settingsDelimiter = "OSQDETECT_SETTINGS_END"

// settingsScript is a shell script for Fleet's scripts (or any other way
// of running a script as root on hosts) that installs the settings file
// atomically and restarts the extension, which reads it at start.
func settingsScript(settings []byte) ([]byte, error) {
	text := string(settings)
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, "\r") == settingsDelimiter {
			return nil, fmt.Errorf("settings file holds a line %q, which would end the script's here-document", settingsDelimiter)
		}
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	var b bytes.Buffer
	b.WriteString(`#!/bin/sh
# Installs osqdetect's settings file, generated by ` + "`osqdetect fleet export --settings FILE`" + `.
# Run it as root on hosts, e.g. with Fleet's scripts:
#   fleetctl run-script --script-path lib/osqdetect/install-osqdetect-conf.sh --host HOST
# The extension reads its settings when it starts; the script stops it and
# osqueryd starts it again with the new file.
set -eu
conf=/etc/osquery/osqdetect.conf
mkdir -p /etc/osquery
tmp=$(mktemp /etc/osquery/.osqdetect.conf.XXXXXX)
trap 'rm -f "$tmp"' EXIT
cat > "$tmp" <<'` + settingsDelimiter + `'
`)
	b.WriteString(text)
	b.WriteString(settingsDelimiter + `
chmod 0644 "$tmp"
mv "$tmp" "$conf"
trap - EXIT
pkill -x osqdetect.ext || true
echo "installed $conf"
`)
	return b.Bytes(), nil
}

// Names of the two files ApplyFiles writes, in the order they must be
// applied.
const (
	ApplyLabelsFile = "osqdetect-labels.yml"
	ApplySpecsFile  = "osqdetect.yml"
)

// ApplyFiles renders the label, queries and policy for `fleetctl apply -f`,
// which adds or updates them and leaves everything else on the server alone.
// They come as two files, to be applied in order: fleetctl applies every
// query of a file before any label of it (ApplyGroup in fleetdm/fleet
// server/service/client.go), so a query naming a label defined in the same
// file fails on a Fleet that does not have the label yet. Each file starts
// with its first document, not with a document of comments only, which
// fleetctl rejects (`Missing required fields ("spec", "kind")`).
func ApplyFiles(o ExportOptions) ([]File, error) {
	p, err := plan(o)
	if err != nil {
		return nil, err
	}
	var labels, specs bytes.Buffer
	applyHeader := func(b *bytes.Buffer, what string, step int) {
		fmt.Fprintf(b, "# osqdetect %s for Fleet, generated by `osqdetect fleet export --format apply`.\n", what)
		fmt.Fprintf(b, "# Apply %s, in this order (the queries and the policy name the label):\n", map[int]string{1: "first", 2: "second"}[step])
		fmt.Fprintf(b, "#   fleetctl apply -f %s\n#   fleetctl apply -f %s\n", ApplyLabelsFile, ApplySpecsFile)
	}
	doc := func(b *bytes.Buffer, kind string, first bool) {
		if !first {
			b.WriteString("---\n")
		}
		b.WriteString("apiVersion: v1\nkind: " + kind + "\nspec:\n")
	}

	applyHeader(&labels, "label", 1)
	doc(&labels, "label", true)
	p.writeLabel(&labels, "  ", "  ")

	applyHeader(&specs, "queries and policy", 2)
	p.ruleComments(&specs)
	for i, q := range p.queries {
		doc(&specs, "query", i == 0)
		p.writeQuery(&specs, q, "  ", "  ", true)
	}
	doc(&specs, "policy", false)
	p.writePolicy(&specs, "  ", "  ", true)
	return []File{
		{Path: ApplyLabelsFile, Content: labels.Bytes()},
		{Path: ApplySpecsFile, Content: specs.Bytes()},
	}, nil
}

// gitopsHeader says where a library file is referenced from. teamToo adds
// the spelling for a team file one directory down.
func gitopsHeader(b *bytes.Buffer, what, key, file string, teamToo bool) {
	fmt.Fprintf(b, "# osqdetect %s for fleetctl gitops, generated by `osqdetect fleet export`.\n", what)
	b.WriteString("# Paths in \"- path:\" are relative to the file that holds them. From default.yml\n")
	b.WriteString("# at the root of the repository:\n")
	fmt.Fprintf(b, "#   %s\n#     - path: ./lib/osqdetect/%s\n", key, file)
	if teamToo {
		b.WriteString("# From a team file one directory down (teams/NAME.yml):\n")
		fmt.Fprintf(b, "#   %s\n#     - path: ../lib/osqdetect/%s\n", key, file)
	}
}

func (p *exportPlan) ruleComments(b *bytes.Buffer) {
	if len(p.rules) == 0 {
		return
	}
	b.WriteString("#\n# Rules whose alerts these queries return:\n")
	for _, r := range p.rules {
		line := fmt.Sprintf("%s  %s (%s, risk %d", r.ID, r.Name, r.Severity, r.RiskScore)
		if len(r.Techniques) > 0 {
			line += ", " + strings.Join(r.Techniques, " ")
		}
		line += ")"
		b.WriteString("#   " + oneLine(line) + "\n")
	}
}

func (p *exportPlan) writeLabel(b *bytes.Buffer, first, rest string) {
	l := p.label
	w := fieldWriter{b: b, first: first, rest: rest}
	w.str("name", l.Name)
	w.str("description", l.Description)
	w.str("query", l.Query)
	w.str("label_membership_type", "dynamic")
}

func (p *exportPlan) writeQuery(b *bytes.Buffer, q querySpec, first, rest string, apply bool) {
	w := fieldWriter{b: b, first: first, rest: rest}
	w.str("name", q.Name)
	w.str("description", q.Description)
	w.str("query", q.Query)
	if apply && p.opts.Team != "" {
		w.str("team", p.opts.Team)
	}
	w.str("platform", q.Platform)
	w.raw("interval", strconv.FormatInt(q.Interval, 10))
	w.raw("observer_can_run", strconv.FormatBool(q.ObserverCanRun))
	w.raw("automations_enabled", strconv.FormatBool(q.AutomationsEnabled))
	w.str("logging", q.Logging)
	w.raw("discard_data", strconv.FormatBool(q.Discard))
	w.list("labels_include_any", []string{p.label.Name})
}

func (p *exportPlan) writePolicy(b *bytes.Buffer, first, rest string, apply bool) {
	pol := p.policy
	w := fieldWriter{b: b, first: first, rest: rest}
	w.str("name", pol.Name)
	w.str("description", pol.Description)
	w.str("resolution", pol.Resolution)
	w.str("query", pol.Query)
	if apply && p.opts.Team != "" {
		w.str("team", p.opts.Team)
	}
	w.str("platform", pol.Platform)
	w.raw("critical", "false")
	w.list("labels_include_any", []string{p.label.Name})
}

// fieldWriter writes "key: value" lines of one YAML mapping: the first
// line starts with first (e.g. "- " for a list item), the others with rest.
type fieldWriter struct {
	b           *bytes.Buffer
	first, rest string
	n           int
}

func (w *fieldWriter) prefix() string {
	w.n++
	if w.n == 1 {
		return w.first
	}
	return w.rest
}

func (w *fieldWriter) raw(key, value string) {
	w.b.WriteString(w.prefix() + key + ": " + value + "\n")
}

func (w *fieldWriter) str(key, value string) { w.raw(key, yamlString(value)) }

func (w *fieldWriter) list(key string, values []string) {
	w.b.WriteString(w.prefix() + key + ":\n")
	for _, v := range values {
		w.b.WriteString(w.rest + "  - " + yamlString(v) + "\n")
	}
}

var plainYAML = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _.,()/+-]*[A-Za-z0-9.)]$`)

// yamlString renders s as a YAML scalar: plain when that cannot be misread,
// otherwise double-quoted with JSON escapes (valid YAML).
func yamlString(s string) string {
	if plainYAML.MatchString(s) && !strings.Contains(s, "  ") {
		switch strings.ToLower(s) {
		case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		default:
			return s
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	// JSON leaves DEL, the C1 controls and U+FFFE/U+FFFF as they are; YAML
	// allows them only escaped (its printable set, YAML 1.2 §5.1).
	return yamlEscapeNonPrintable(strings.TrimSuffix(b.String(), "\n"))
}

func yamlEscapeNonPrintable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == 0x7f || (r >= 0x80 && r <= 0x9f && r != 0x85) || r == 0xfffe || r == 0xffff {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// packQuery is one query of an osquery pack; field order is output order.
type packQuery struct {
	Query       string `json:"query"`
	Interval    int64  `json:"interval"`
	Snapshot    bool   `json:"snapshot"`
	Removed     *bool  `json:"removed,omitempty"`
	Platform    string `json:"platform"`
	Description string `json:"description"`
}

type pack struct {
	Platform  string               `json:"platform"`
	Discovery []string             `json:"discovery"`
	Queries   map[string]packQuery `json:"queries"`
}

// Pack renders an osquery pack (JSON) for fleets managed without Fleet.
// It is not meant for `fleetctl convert`, which drops "removed": false (the
// alerts query comes back as a snapshot with automations off) and the
// discovery query (seen on Fleet 4.69); GitOpsFiles and ApplyFiles are the
// Fleet route. The pack holds the new-alerts query as a differential query
// with "removed": false, and a snapshot of detection_health. A discovery
// query keeps the pack off hosts without the extension.
func Pack(o ExportOptions) ([]byte, error) {
	p, err := plan(o)
	if err != nil {
		return nil, err
	}
	stream, health := p.queries[0], p.queries[2]
	desc := stream.Description
	if len(p.rules) > 0 {
		names := make([]string, len(p.rules))
		for i, r := range p.rules {
			names[i] = oneLine(r.Name) + " [" + r.Severity + "]"
		}
		desc += " Rules: " + strings.Join(names, "; ") + "."
	}
	no := false
	pk := pack{
		Platform:  p.opts.Platform,
		Discovery: []string{p.label.Query},
		Queries: map[string]packQuery{
			"osqdetect_alerts": {Query: stream.Query, Interval: stream.Interval, Removed: &no, Platform: p.opts.Platform, Description: desc},
			"osqdetect_health": {Query: health.Query, Interval: health.Interval, Snapshot: true, Platform: p.opts.Platform, Description: health.Description},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(pk); err != nil {
		return nil, fmt.Errorf("encoding pack: %w", err)
	}
	return b.Bytes(), nil
}
