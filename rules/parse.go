package rules

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/eql"
	"github.com/osqdetect/osqdetect/detect/kql"
	"github.com/osqdetect/osqdetect/internal/tomllimit"
)

// MaxFileSize is the largest rule file read: Elastic's largest Linux rule is
// 19 KB.
const MaxFileSize = 256 << 10

// maxMaxSignals is the largest max_signals accepted: Kibana's own limit on
// alerts per rule run is far below it; the bound keeps the int conversion
// safe.
const maxMaxSignals = 1_000_000

// ruleFile is the part of an Elastic detection-rules TOML file we read.
// Other keys (note, references, setup, ...) are ignored.
type ruleFile struct {
	Metadata struct {
		Maturity string `toml:"maturity"`
	} `toml:"metadata"`
	Rule struct {
		RuleID            string   `toml:"rule_id"`
		Name              string   `toml:"name"`
		Description       string   `toml:"description"`
		Type              string   `toml:"type"`
		Language          string   `toml:"language"`
		Query             string   `toml:"query"`
		Severity          string   `toml:"severity"`
		RiskScore         int      `toml:"risk_score"`
		From              string   `toml:"from"`
		Interval          string   `toml:"interval"`
		MaxSignals        *int64   `toml:"max_signals"`
		Version           int      `toml:"version"`
		Tags              []string `toml:"tags"`
		TimestampOverride string   `toml:"timestamp_override"`
		Threat            []struct {
			Framework string `toml:"framework"`
			Tactic    struct {
				ID string `toml:"id"`
			} `toml:"tactic"`
			Technique []struct {
				ID           string `toml:"id"`
				Subtechnique []struct {
					ID string `toml:"id"`
				} `toml:"subtechnique"`
			} `toml:"technique"`
		} `toml:"threat"`
		NewTerms *struct {
			Value              []string `toml:"value"`
			HistoryWindowStart []struct {
				Value string `toml:"value"`
			} `toml:"history_window_start"`
		} `toml:"new_terms"`
		Threshold *struct {
			Field       any `toml:"field"`
			Value       int `toml:"value"`
			Cardinality []struct {
				Field string `toml:"field"`
				Value int    `toml:"value"`
			} `toml:"cardinality"`
		} `toml:"threshold"`
	} `toml:"rule"`
}

// Parse compiles one rule file. source names it in messages ("builtin" or
// a path). A rule that cannot run comes back with Status.Rejected set and
// a reason that names the source, the line and what is missing.
func Parse(data []byte, source string) (*detect.Rule, Status) {
	var f ruleFile
	reject := func(meta detect.RuleMeta, format string, args ...any) (*detect.Rule, Status) {
		meta.Source = source
		return nil, Status{Meta: meta, Rejected: true, Error: source + ": " + fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxFileSize {
		return reject(detect.RuleMeta{}, "file too large: %d bytes, at most %d", len(data), MaxFileSize)
	}
	if err := tomllimit.Check(data, tomllimit.MaxDepth); err != nil {
		return reject(detect.RuleMeta{}, "%v", err)
	}
	if err := decodeRuleFile(blankUnread(data), &f); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return reject(detect.RuleMeta{}, "line %d, column %d: invalid TOML: %s", perr.Position.Line, perr.Position.Col, perr.Message)
		}
		return reject(detect.RuleMeta{}, "invalid TOML: %v", err)
	}
	r := &f.Rule
	meta := detect.RuleMeta{
		ID:          r.RuleID,
		Name:        r.Name,
		Description: strings.TrimSpace(r.Description),
		Type:        r.Type,
		Language:    r.Language,
		Query:       strings.TrimSpace(r.Query),
		Severity:    r.Severity,
		RiskScore:   r.RiskScore,
		Tags:        r.Tags,
		Version:     r.Version,
		Source:      source,
	}
	if r.MaxSignals != nil {
		// Kibana's rule schema takes max_signals as a positive integer
		// (PositiveIntegerGreaterThanZero): 0 or -1 does not mean "no limit".
		if *r.MaxSignals < 1 || *r.MaxSignals > maxMaxSignals {
			return reject(meta, "line %d: rule.max_signals: %d is out of range: want 1 to %d", lineOf(data, "max_signals"), *r.MaxSignals, maxMaxSignals)
		}
		meta.MaxSignals = int(*r.MaxSignals)
	}
	for _, th := range r.Threat {
		if th.Tactic.ID != "" && !contains(meta.Tactics, th.Tactic.ID) {
			meta.Tactics = append(meta.Tactics, th.Tactic.ID)
		}
		for _, tech := range th.Technique {
			if tech.ID != "" && !contains(meta.Techniques, tech.ID) {
				meta.Techniques = append(meta.Techniques, tech.ID)
			}
			for _, sub := range tech.Subtechnique {
				if sub.ID != "" && !contains(meta.Techniques, sub.ID) {
					meta.Techniques = append(meta.Techniques, sub.ID)
				}
			}
		}
	}
	queryLine := lineOf(data, "query")

	switch {
	case meta.ID == "":
		return reject(meta, "missing rule.rule_id")
	case meta.Name == "":
		return reject(meta, "missing rule.name")
	case meta.Query == "" && r.Type != "machine_learning":
		return reject(meta, "missing rule.query")
	}
	if !validSeverity(meta.Severity) {
		return reject(meta, "rule.severity %q is not low, medium, high or critical", meta.Severity)
	}
	var err error
	if r.From != "" {
		if meta.From, err = parseDateMath(r.From); err != nil {
			return reject(meta, "line %d: rule.from: %v", lineOf(data, "from"), err)
		}
	}
	if r.Interval != "" {
		if meta.Interval, err = parseDuration(r.Interval); err != nil {
			return reject(meta, "line %d: rule.interval: %v", lineOf(data, "interval"), err)
		}
	}

	var optional []string // EQL ?fields
	var lits []literal    // constants compared with fields
	compileKQL := func() (*kql.Query, *detect.Rule, Status, bool) {
		if r.Language != "kuery" {
			rr, st := reject(meta, "rule type %s with language %q is not supported (only kuery)", r.Type, r.Language)
			return nil, rr, st, false
		}
		q, err := kql.Compile(meta.Query)
		if err != nil {
			rr, st := reject(meta, "%s", queryError(err, queryLine))
			return nil, rr, st, false
		}
		lits = kqlLiterals(q)
		return q, nil, Status{}, true
	}

	var rule *detect.Rule
	switch r.Type {
	case "query":
		q, rr, st, ok := compileKQL()
		if !ok {
			return rr, st
		}
		rule = detect.NewQueryRule(meta, q.Match, q.Fields)
		indexKQL(rule, q)
	case "eql":
		if r.Language != "eql" {
			return reject(meta, "rule type eql with language %q is not supported", r.Language)
		}
		q, err := eql.Compile(meta.Query, eql.Options{})
		if err != nil {
			return reject(meta, "%s", queryError(err, queryLine))
		}
		if q.Head != 0 || q.Tail != 0 {
			return reject(meta, "line %d: EQL pipes (| head, | tail) limit a search's result and have no meaning for a streaming rule", queryLine)
		}
		if rule, err = detect.NewEQLRule(meta, q); err != nil {
			return reject(meta, "%v", err)
		}
		optional = q.OptionalFields()
		lits = eqlLiterals(q)
	case "new_terms":
		if r.NewTerms == nil || len(r.NewTerms.Value) == 0 {
			return reject(meta, "new_terms rule without rule.new_terms.value fields")
		}
		meta.NewTermsFields = r.NewTerms.Value
		window := "now-7d"
		if len(r.NewTerms.HistoryWindowStart) > 0 {
			window = r.NewTerms.HistoryWindowStart[0].Value
		}
		if meta.HistoryWindow, err = parseDateMath(window); err != nil {
			return reject(meta, "line %d: rule.new_terms.history_window_start: %v", historyWindowLine(data), err)
		}
		q, rr, st, ok := compileKQL()
		if !ok {
			return rr, st
		}
		if rule, err = detect.NewNewTermsRule(meta, q.Match, q.Fields); err != nil {
			return reject(meta, "%v", err)
		}
		indexKQL(rule, q)
	case "threshold":
		if r.Threshold == nil {
			return reject(meta, "threshold rule without rule.threshold")
		}
		t := detect.Threshold{Value: r.Threshold.Value}
		switch fv := r.Threshold.Field.(type) {
		case string:
			if fv != "" {
				t.Fields = []string{fv}
			}
		case []any:
			for _, x := range fv {
				s, ok := x.(string)
				if !ok {
					return reject(meta, "line %d: threshold.field must be strings", lineOf(data, "field"))
				}
				t.Fields = append(t.Fields, s)
			}
		case nil:
		default:
			return reject(meta, "line %d: threshold.field must be a string or a list of strings", lineOf(data, "field"))
		}
		if len(r.Threshold.Cardinality) > 1 {
			return reject(meta, "threshold with more than one cardinality condition is not supported")
		}
		if len(r.Threshold.Cardinality) == 1 {
			t.CardinalityField = r.Threshold.Cardinality[0].Field
			t.Cardinality = r.Threshold.Cardinality[0].Value
		}
		q, rr, st, ok := compileKQL()
		if !ok {
			return rr, st
		}
		if rule, err = detect.NewThresholdRule(meta, q.Match, q.Fields, t); err != nil {
			return reject(meta, "%v", err)
		}
		indexKQL(rule, q)
	case "":
		return reject(meta, "missing rule.type")
	default:
		return reject(meta, "rule type %q is not supported (supported: query, eql, new_terms, threshold)", r.Type)
	}
	named := append(append([]string(nil), rule.Fields...), meta.NewTermsFields...)
	if r.Threshold != nil {
		for _, c := range r.Threshold.Cardinality {
			named = append(named, c.Field)
		}
	}
	if msg := unknownFields(data, queryLine, named, optional); msg != "" {
		return reject(meta, "%s", msg)
	}
	if msg := typeMismatch(data, queryLine, lits); msg != "" {
		return reject(meta, "%s", msg)
	}
	st := Status{Meta: rule.Meta}
	if missing := unavailableFields(rule.Fields); len(missing) > 0 {
		st.Error = "uses fields osquery events do not carry: " + strings.Join(missing, ", ")
	}
	return rule, st
}

// indexKQL gives a rule built on KQL query q what the engine's index and
// per-shape conditions take from it.
func indexKQL(rule *detect.Rule, q *kql.Query) {
	rule.Prefilters, rule.Targets, rule.MatchFor = q.Prefilters, q.Targets, q.MatchFor
}

// queryError renders a compile error with the line in the rule file.
func queryError(err error, queryLine int) string {
	var kse *kql.SyntaxError
	var kue *kql.UnsupportedError
	var ese *eql.SyntaxError
	var eue *eql.UnsupportedError
	line, col, msg := 0, 0, err.Error()
	switch {
	case errors.As(err, &kse):
		line, col, msg = kse.Line, kse.Col, "KQL syntax error: "+kse.Msg
	case errors.As(err, &kue):
		line, col, msg = kue.Line, kue.Col, "unsupported KQL feature: "+kue.Feature
	case errors.As(err, &ese):
		line, col, msg = ese.Line, ese.Col, "EQL syntax error: "+ese.Msg
	case errors.As(err, &eue):
		line, col, msg = eue.Line, eue.Col, "unsupported EQL feature: "+eue.Feature
	}
	if line > 0 && queryLine > 0 {
		return fmt.Sprintf("line %d, column %d: %s", queryLine+line-1, col, msg)
	}
	return msg
}

// lineKey returns the bare key a line assigns ("  key = ..."), or "":
// what the pattern ^\s*([A-Za-z_]+)\s*= captures, read without a regexp
// (every line of every file is read for the query's line).
func lineKey(line string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }
	i := 0
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	start := i
	for i < len(line) && (line[i] == '_' || 'a' <= line[i] && line[i] <= 'z' || 'A' <= line[i] && line[i] <= 'Z') {
		i++
	}
	key := line[start:i]
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	if key == "" || i == len(line) || line[i] != '=' {
		return ""
	}
	return key
}

// lineOf returns the line of the first "key =" in data, or 0. For the
// query key it returns the line the query text starts on.
func lineOf(data []byte, key string) int {
	text := string(data)
	for i := 0; text != ""; i++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if lineKey(line) != key {
			continue
		}
		after := strings.TrimSpace(line[strings.Index(line, "=")+1:])
		// A multi-line string whose opening quotes end the line starts
		// on the next line.
		if after == `'''` || after == `"""` {
			return i + 2
		}
		return i + 1
	}
	return 0
}

func validSeverity(s string) bool {
	switch s {
	case "low", "medium", "high", "critical":
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseDateMath reads Kibana's relative date math "now-9m" as a look-back.
func parseDateMath(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "now-")
	if !ok {
		return 0, fmt.Errorf("%q is not relative date math like now-9m", s)
	}
	return parseDuration(rest)
}

// parseDuration reads Kibana durations: a count and one of s, m, h, d.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("invalid duration %q: unit must be s, m, h or d", s)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("duration %q overflows: at most %d%c", s, int64(math.MaxInt64/unit), s[len(s)-1])
	}
	return time.Duration(n) * unit, nil
}

// historyWindowLine is the line of a new-terms rule's history window: the
// value under [[rule.new_terms.history_window_start]] as Elastic writes
// it, else an inline history_window_start key, else 0.
func historyWindowLine(data []byte) int {
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != "[[rule.new_terms.history_window_start]]" {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if strings.HasPrefix(t, "[") {
				break
			}
			if lineKey(lines[j]) == "value" {
				return j + 1
			}
		}
		return i + 1
	}
	return lineOf(data, "history_window_start")
}

// unavailableFields lists the referenced fields osquery's process and
// socket events never fill, sorted.
func unavailableFields(fields []string) []string {
	var out []string
	for _, f := range fields {
		if !osqueryProvides(f) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}
