package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/internal/tomllimit"
)

// Error is a problem with a settings file: which file, which line (0 when
// unknown), which setting and what is wrong with it.
type Error struct {
	Path    string
	Line    int
	Setting string // dotted name, e.g. "retention.max_age"; empty for syntax errors
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Setting != "" {
		b.WriteString(e.Setting)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Parse reads settings from data, which came from the file path (used in
// errors and to resolve relative rule directories). Settings the data does
// not mention keep their Defaults. Environment variables are not consulted.
// When the data has several problems, the error names the first by line.
func Parse(path string, data []byte) (Config, error) {
	cfg := Defaults()
	cfg.Path = path
	cfg.Loaded = true

	if len(data) > MaxFileSize {
		return Config{}, &Error{Path: path, Problem: fmt.Sprintf("file too large: %d bytes, at most %d", len(data), MaxFileSize)}
	}
	if err := tomllimit.Check(data, tomllimit.MaxDepth); err != nil {
		var de *tomllimit.DepthError
		if errors.As(err, &de) {
			return Config{}, &Error{Path: path, Line: de.Line, Problem: fmt.Sprintf("nesting deeper than %d levels", de.Max)}
		}
		return Config{}, &Error{Path: path, Problem: err.Error()}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &Error{Path: path, Line: pe.Position.Line, Problem: "invalid TOML: " + pe.Message}
		}
		return Config{}, &Error{Path: path, Problem: "invalid TOML: " + err.Error()}
	}

	p := &parser{path: path, src: string(data), cfg: &cfg}
	p.table(nil, doc, topLevel)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			li, lj := p.errs[i].Line, p.errs[j].Line
			if li == 0 || lj == 0 {
				return li != 0 && lj == 0
			}
			return li < lj
		})
		return Config{}, p.errs[0]
	}
	return cfg, nil
}

// setting decodes one value into the Config, or reports why it cannot.
type setting func(p *parser, v any) (problem string)

// section is a table of settings; sub-tables are named in tables.
type section struct {
	settings map[string]setting
	tables   map[string]*section
	// free, when set, accepts any key (a map such as rate_limit.rules).
	free func(p *parser, key string, v any) (problem string)
}

var topLevel = &section{
	settings: map[string]setting{
		"rule_dirs": func(p *parser, v any) string {
			dirs, problem := stringList(v)
			if problem != "" {
				return problem
			}
			base := filepath.Dir(p.path)
			for i, d := range dirs {
				if !filepath.IsAbs(d) {
					d = filepath.Join(base, d)
				}
				dirs[i] = filepath.Clean(d)
			}
			p.cfg.RuleDirs = dirs
			return ""
		},
		"disabled_rules": func(p *parser, v any) string {
			ids, problem := stringList(v)
			if problem != "" {
				return problem
			}
			p.cfg.DisabledRules = dedupe(ids)
			return ""
		},
		"poll_interval": durationSetting(func(c *Config) *time.Duration { return &c.PollInterval },
			100*time.Millisecond, 10*time.Minute,
			" (osquery drops buffered events after --events_expiry, 1h by default)"),
		"state_dir": func(p *parser, v any) string {
			s, ok := v.(string)
			if !ok {
				return wantGot("a directory path", v)
			}
			if !filepath.IsAbs(s) {
				return fmt.Sprintf("%q must be an absolute path", s)
			}
			p.cfg.StateDir = filepath.Clean(s)
			return ""
		},
		"log_level": func(p *parser, v any) string {
			s, ok := v.(string)
			if !ok {
				return wantGot(`one of "debug", "info", "warn", "error"`, v)
			}
			switch strings.ToLower(s) {
			case "debug":
				p.cfg.LogLevel = slog.LevelDebug
			case "info":
				p.cfg.LogLevel = slog.LevelInfo
			case "warn", "warning":
				p.cfg.LogLevel = slog.LevelWarn
			case "error":
				p.cfg.LogLevel = slog.LevelError
			default:
				return fmt.Sprintf(`unknown level %q (want "debug", "info", "warn" or "error")`, s)
			}
			return ""
		},
	},
	tables: map[string]*section{
		"retention": {settings: map[string]setting{
			"max_age": durationSetting(func(c *Config) *time.Duration { return &c.Retention.MaxAge },
				0, 100*365*24*time.Hour, " (0 keeps alerts of any age)"),
			"max_count": intSetting(func(c *Config) *int { return &c.Retention.MaxCount },
				0, 100_000_000, " (0 keeps any number of alerts)"),
			"prune_interval": durationSetting(func(c *Config) *time.Duration { return &c.Retention.PruneInterval },
				time.Second, 24*time.Hour, ""),
		}},
		"rate_limit": {
			settings: map[string]setting{
				"disabled": func(p *parser, v any) string {
					b, ok := v.(bool)
					if !ok {
						return wantGot("true or false", v)
					}
					p.cfg.RateLimit.Disabled = b
					return ""
				},
			},
			tables: map[string]*section{
				"rules": {free: func(p *parser, id string, v any) string {
					if strings.TrimSpace(id) == "" {
						return "rule id must not be empty"
					}
					n, problem := integer(v, 1, 1_000_000, " (disable a rule with disabled_rules instead of a limit of 0)")
					if problem != "" {
						return problem
					}
					p.cfg.RateLimit.Rules[id] = n
					return ""
				}},
			},
		},
		"engine": {settings: map[string]setting{
			"process_cache_size": intSetting(func(c *Config) *int { return &c.Engine.ProcessCacheSize },
				16, 10_000_000, ""),
			"max_pending_sequences": intSetting(func(c *Config) *int { return &c.Engine.MaxPendingSequences },
				1, 10_000_000, ""),
		}},
		"tables": {settings: map[string]setting{
			"timeout": durationSetting(func(c *Config) *time.Duration { return &c.Tables.Timeout },
				time.Second, 10*time.Minute, ""),
			"max_concurrent": intSetting(func(c *Config) *int { return &c.Tables.MaxConcurrent },
				1, 64, ""),
		}},
	},
}

type parser struct {
	path string
	src  string
	cfg  *Config
	errs []*Error
}

func (p *parser) fail(key []string, problem string) {
	p.errs = append(p.errs, &Error{
		Path:    p.path,
		Line:    locate(p.src, key),
		Setting: strings.Join(key, "."),
		Problem: problem,
	})
}

// table decodes every key of one TOML table against its section.
func (p *parser) table(prefix []string, doc map[string]any, sec *section) {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := doc[k]
		key := append(append([]string(nil), prefix...), k)
		if sec.free != nil {
			if problem := sec.free(p, k, v); problem != "" {
				p.fail(key, problem)
			}
			continue
		}
		if set, ok := sec.settings[k]; ok {
			if problem := set(p, v); problem != "" {
				p.fail(key, problem)
			}
			continue
		}
		if sub, ok := sec.tables[k]; ok {
			m, ok := v.(map[string]any)
			if !ok {
				p.fail(key, wantGot("a table (["+strings.Join(key, ".")+"])", v))
				continue
			}
			p.table(key, m, sub)
			continue
		}
		p.fail(key, "unknown setting"+suggest(k, sec))
	}
}

func durationSetting(field func(*Config) *time.Duration, min, max time.Duration, note string) setting {
	return func(p *parser, v any) string {
		s, ok := v.(string)
		if !ok {
			return wantGot(`a duration such as "2s", "5m" or "30d"`, v)
		}
		d, err := parseDuration(s)
		if err != nil {
			return fmt.Sprintf("invalid duration %q (want a number with a unit: ms, s, m, h or d)", s)
		}
		if d < min || d > max {
			return fmt.Sprintf("%s is out of range: want %s to %s%s", s, formatDuration(min), formatDuration(max), note)
		}
		*field(p.cfg) = d
		return ""
	}
}

func intSetting(field func(*Config) *int, min, max int, note string) setting {
	return func(p *parser, v any) string {
		n, problem := integer(v, min, max, note)
		if problem != "" {
			return problem
		}
		*field(p.cfg) = n
		return ""
	}
}

func integer(v any, min, max int, note string) (int, string) {
	n, ok := v.(int64)
	if !ok {
		return 0, wantGot("an integer", v)
	}
	if n < int64(min) || n > int64(max) {
		return 0, fmt.Sprintf("%d is out of range: want %d to %d%s", n, min, max, note)
	}
	return int(n), ""
}

func stringList(v any) ([]string, string) {
	arr, ok := v.([]any)
	if !ok {
		return nil, wantGot("a list of strings", v)
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Sprintf("entry %d: %s", i+1, wantGot("a string", e))
		}
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Sprintf("entry %d is empty", i+1)
		}
		out = append(out, s)
	}
	return out, ""
}

func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// parseDuration accepts Go durations ("1h30m", "500ms") and whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("invalid day count %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 && d >= 24*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String() // "10m0s", "1h0m0s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func wantGot(want string, v any) string {
	return fmt.Sprintf("want %s, got %s", want, describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any:
		return "a list"
	case []map[string]any:
		return "a list of tables"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// suggest names the closest known key to a misspelt one.
func suggest(key string, sec *section) string {
	best, bestDist := "", 3
	consider := func(k string) {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	for k := range sec.settings {
		consider(k)
	}
	for k := range sec.tables {
		consider(k)
	}
	// Also look one level down: a top-level "max_age" belongs in [retention].
	var elsewhere string
	for name, sub := range sec.tables {
		if _, ok := sub.settings[key]; ok {
			elsewhere = name
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf(" (did you mean %q?)", best)
	case elsewhere != "":
		return fmt.Sprintf(" (it belongs in the [%s] table)", elsewhere)
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
