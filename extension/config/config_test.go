package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/internal/tomllimit"
)

const confPath = "/etc/osquery/osqdetect.conf"

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  func(c *Config)
	}{
		{
			name:  "empty file is defaults",
			input: "",
			want:  func(c *Config) {},
		},
		{
			name:  "comments only",
			input: "# nothing set\n\n",
			want:  func(c *Config) {},
		},
		{
			name: "top-level settings",
			input: `rule_dirs = ["/opt/rules", "local"]
disabled_rules = ["r1", "r2", "r1"]
poll_interval = "500ms"
state_dir = "/var/lib/osqdetect/"
log_level = "DEBUG"
`,
			want: func(c *Config) {
				c.RuleDirs = []string{"/opt/rules", "/etc/osquery/local"}
				c.DisabledRules = []string{"r1", "r2"}
				c.PollInterval = 500 * time.Millisecond
				c.StateDir = "/var/lib/osqdetect"
				c.LogLevel = slog.LevelDebug
			},
		},
		{
			name: "tables",
			input: `[retention]
max_age = "30d"
max_count = 0
prune_interval = "1m"

[rate_limit]
disabled = true

[rate_limit.rules]
"a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a" = 10
plain_id = 1

[engine]
process_cache_size = 1000
max_pending_sequences = 50

[tables]
timeout = "1m"
max_concurrent = 2
`,
			want: func(c *Config) {
				c.Retention = Retention{MaxAge: 30 * 24 * time.Hour, MaxCount: 0, PruneInterval: time.Minute}
				c.RateLimit = RateLimit{Disabled: true, Rules: map[string]int{
					"a3ffb2e8-2b54-4ad2-bd47-5b2f4fd41d3a": 10, "plain_id": 1}}
				c.Engine = Engine{ProcessCacheSize: 1000, MaxPendingSequences: 50}
				c.Tables = Tables{Timeout: time.Minute, MaxConcurrent: 2}
			},
		},
		{
			name:  "dotted keys and inline tables",
			input: "retention.max_age = \"1h\"\nengine = { process_cache_size = 64 }\n",
			want: func(c *Config) {
				c.Retention.MaxAge = time.Hour
				c.Engine.ProcessCacheSize = 64
			},
		},
		{
			name:  "zero max_age keeps everything",
			input: "[retention]\nmax_age = \"0\"\n",
			want:  func(c *Config) { c.Retention.MaxAge = 0 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(confPath, []byte(tt.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := Defaults()
			want.Path = confPath
			want.Loaded = true
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  string // the whole error text
	}{
		{
			name:  "bad duration names file line and setting",
			input: "# settings\n\n\n\n\n\npoll_interval = \"2 seconds\"\n",
			want:  `/etc/osquery/osqdetect.conf:7: poll_interval: invalid duration "2 seconds" (want a number with a unit: ms, s, m, h or d)`,
		},
		{
			name:  "duration out of range",
			input: "poll_interval = \"1ms\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: poll_interval: 1ms is out of range: want 100ms to 10m (osquery drops buffered events after --events_expiry, 1h by default)`,
		},
		{
			name:  "duration given as number",
			input: "\npoll_interval = 2\n",
			want:  `/etc/osquery/osqdetect.conf:2: poll_interval: want a duration such as "2s", "5m" or "30d", got integer 2`,
		},
		{
			name:  "unknown key with suggestion",
			input: "rule_dirs = []\npol_interval = \"2s\"\n",
			want:  `/etc/osquery/osqdetect.conf:2: pol_interval: unknown setting (did you mean "poll_interval"?)`,
		},
		{
			name:  "setting in the wrong table",
			input: "max_count = 5\n",
			want:  `/etc/osquery/osqdetect.conf:1: max_count: unknown setting (it belongs in the [retention] table)`,
		},
		{
			name:  "unknown key in a table",
			input: "[retention]\nmax_age = \"1h\"\nmaxcount = 5\n",
			want:  `/etc/osquery/osqdetect.conf:3: retention.maxcount: unknown setting (did you mean "max_count"?)`,
		},
		{
			name:  "unknown table",
			input: "[retension]\nmax_age = \"1h\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: retension: unknown setting (did you mean "retention"?)`,
		},
		{
			name:  "table given as value",
			input: "retention = 5\n",
			want:  `/etc/osquery/osqdetect.conf:1: retention: want a table ([retention]), got integer 5`,
		},
		{
			name:  "syntax error",
			input: "poll_interval = \"2s\"\nstate_dir = \n",
			want:  `/etc/osquery/osqdetect.conf:2: invalid TOML: expected value but found '\n' instead`,
		},
		{
			name:  "duplicate key",
			input: "log_level = \"info\"\nlog_level = \"debug\"\n",
			want:  `/etc/osquery/osqdetect.conf:2: invalid TOML: Key 'log_level' has already been defined.`,
		},
		{
			name:  "relative state dir",
			input: "state_dir = \"state\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: state_dir: "state" must be an absolute path`,
		},
		{
			name:  "bad log level",
			input: "log_level = \"loud\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: log_level: unknown level "loud" (want "debug", "info", "warn" or "error")`,
		},
		{
			name:  "rule dirs not a list",
			input: "rule_dirs = \"/opt/rules\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: rule_dirs: want a list of strings, got "/opt/rules"`,
		},
		{
			name:  "rule dirs entry not a string",
			input: "rule_dirs = [\n  \"/a\",\n  3,\n]\n",
			want:  `/etc/osquery/osqdetect.conf:1: rule_dirs: entry 2: want a string, got integer 3`,
		},
		{
			name:  "empty disabled rule id",
			input: "disabled_rules = [\"\"]\n",
			want:  `/etc/osquery/osqdetect.conf:1: disabled_rules: entry 1 is empty`,
		},
		{
			name:  "rate limit of zero",
			input: "[rate_limit.rules]\n\"r-1\" = 0\n",
			want:  `/etc/osquery/osqdetect.conf:2: rate_limit.rules.r-1: 0 is out of range: want 1 to 1000000 (disable a rule with disabled_rules instead of a limit of 0)`,
		},
		{
			name:  "rate limit not an integer",
			input: "[rate_limit]\ndisabled = false\n[rate_limit.rules]\nr1 = \"ten\"\n",
			want:  `/etc/osquery/osqdetect.conf:4: rate_limit.rules.r1: want an integer, got "ten"`,
		},
		{
			name:  "disabled not a bool",
			input: "[rate_limit]\ndisabled = \"yes\"\n",
			want:  `/etc/osquery/osqdetect.conf:2: rate_limit.disabled: want true or false, got "yes"`,
		},
		{
			name:  "negative count",
			input: "[retention]\nmax_count = -1\n",
			want:  `/etc/osquery/osqdetect.conf:2: retention.max_count: -1 is out of range: want 0 to 100000000 (0 keeps any number of alerts)`,
		},
		{
			name:  "float where integer wanted",
			input: "[engine]\nprocess_cache_size = 1.5\n",
			want:  `/etc/osquery/osqdetect.conf:2: engine.process_cache_size: want an integer, got number 1.5`,
		},
		{
			name:  "inline table value reported at its key line",
			input: "\nengine = { process_cache_size = 1 }\n",
			want:  `/etc/osquery/osqdetect.conf:2: engine.process_cache_size: 1 is out of range: want 16 to 10000000`,
		},
		{
			name:  "first problem by line wins",
			input: "log_level = \"x\"\n[tables]\ntimeout = \"0s\"\n",
			want:  `/etc/osquery/osqdetect.conf:1: log_level: unknown level "x" (want "debug", "info", "warn" or "error")`,
		},
		{
			name:  "key inside a multi-line string is not confused",
			input: "rule_dirs = []\n# x\n[tables]\ntimeout = \"\"\"\nmax_concurrent = 1\n\"\"\"\nmax_concurrent = 0\n",
			want:  `/etc/osquery/osqdetect.conf:4: tables.timeout: invalid duration "max_concurrent = 1\n" (want a number with a unit: ms, s, m, h or d)`,
		},
		{
			name:  "nested inline tables are refused before parsing",
			input: "poll_interval = \"2s\"\nengine = " + strings.Repeat("{a=", 4000) + "1" + strings.Repeat("}", 4000) + "\n",
			want:  `/etc/osquery/osqdetect.conf:2: nesting deeper than 10 levels`,
		},
		{
			name:  "long dotted keys are refused before parsing",
			input: "\n\nengine" + strings.Repeat(".a", 4000) + " = 1\n",
			want:  `/etc/osquery/osqdetect.conf:3: nesting deeper than 10 levels`,
		},
		{
			name:  "oversized file",
			input: "# " + strings.Repeat("x", MaxFileSize) + "\n",
			want:  fmt.Sprintf(`/etc/osquery/osqdetect.conf: file too large: %d bytes, at most %d`, MaxFileSize+3, MaxFileSize),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(confPath, []byte(tt.input))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *config.Error", err)
			}
		})
	}
}

func TestExampleFileIsCompleteAndDefault(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "osqdetect.conf")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(path, data)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := Defaults()
	want.Path = path
	want.Loaded = true
	want.RuleDirs = []string{}
	want.DisabledRules = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config does not show the defaults:\n got %+v\nwant %+v", got, want)
	}
	// Every setting the parser knows is written out in the example.
	var walk func(prefix []string, sec *section)
	walk = func(prefix []string, sec *section) {
		for k := range sec.settings {
			key := append(append([]string(nil), prefix...), k)
			if locateExact(string(data), key) == 0 {
				t.Errorf("example config lacks %s", strings.Join(key, "."))
			}
		}
		for k, sub := range sec.tables {
			key := append(append([]string(nil), prefix...), k)
			if locateExact(string(data), key) == 0 {
				t.Errorf("example config lacks [%s]", strings.Join(key, "."))
			}
			walk(key, sub)
		}
	}
	walk(nil, topLevel)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "absent.conf")

	t.Run("missing file is defaults", func(t *testing.T) {
		t.Setenv(EnvStateDir, "")
		got, err := Load(missing)
		if err != nil {
			t.Fatal(err)
		}
		want := Defaults()
		want.Path = missing
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("state dir from environment wins", func(t *testing.T) {
		file := filepath.Join(dir, "s.conf")
		if err := os.WriteFile(file, []byte("state_dir = \"/srv/a\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvStateDir, "/srv/b/")
		got, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		if got.StateDir != "/srv/b" || !got.Loaded {
			t.Errorf("StateDir = %q Loaded = %v, want /srv/b true", got.StateDir, got.Loaded)
		}
	})

	t.Run("relative state dir from environment", func(t *testing.T) {
		t.Setenv(EnvStateDir, "rel")
		_, err := Load(missing)
		if err == nil || !strings.Contains(err.Error(), EnvStateDir) {
			t.Errorf("err = %v, want one naming %s", err, EnvStateDir)
		}
	})

	t.Run("unreadable path", func(t *testing.T) {
		t.Setenv(EnvStateDir, "")
		_, err := Load(dir) // a directory
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("err = %v, want one naming %s", err, dir)
		}
	})

	t.Run("named pipe is refused, not waited on", func(t *testing.T) {
		t.Setenv(EnvStateDir, "")
		fifo := filepath.Join(dir, "fifo.conf")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := Load(fifo); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), fifo+": not a regular file (a named pipe)") {
				t.Errorf("err = %v, want one naming %s as a named pipe", err, fifo)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Load blocked on a named pipe")
		}
	})

	t.Run("oversized file", func(t *testing.T) {
		t.Setenv(EnvStateDir, "")
		big := filepath.Join(dir, "big.conf")
		if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(big)
		if err == nil || !strings.Contains(err.Error(), big+": file too large") {
			t.Errorf("err = %v, want one naming %s as too large", err, big)
		}
	})

	t.Run("path from environment", func(t *testing.T) {
		t.Setenv(EnvConfig, "")
		if got := PathFromEnv(); got != DefaultPath {
			t.Errorf("PathFromEnv() = %q, want %q", got, DefaultPath)
		}
		t.Setenv(EnvConfig, missing)
		if got := PathFromEnv(); got != missing {
			t.Errorf("PathFromEnv() = %q, want %q", got, missing)
		}
	})
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2s", 2 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"0", 0, true},
		{"d", 0, false},
		{"-1d", 0, false},
		{"1.5d", 0, false},
		{"99999999999999999d", 0, false},
		{"2 seconds", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "osqdetect.conf")); err == nil {
		f.Add(string(data))
	}
	f.Add("poll_interval = \"2s\"\n[retention]\nmax_age = \"1h\"\n")
	f.Add("engine = { process_cache_size = 64 }\n")
	f.Add("[rate_limit.rules]\n'a.b' = 3\n\"c\\\"d\" = 4\n")
	f.Add("x = '''\nmulti\n'''\n")
	// The limits: nesting at and over the bound, long dotted keys, headers.
	f.Add("engine = " + strings.Repeat("{a=", 10) + "1" + strings.Repeat("}", 10) + "\n")
	f.Add("engine = " + strings.Repeat("{a=", 11) + "1" + strings.Repeat("}", 11) + "\n")
	f.Add("rate_limit" + strings.Repeat(".a", 12) + " = 1\n")
	f.Add("[[rate_limit" + strings.Repeat(".a", 9) + "]]\n")
	f.Fuzz(func(t *testing.T, input string) {
		cfg, err := Parse(confPath, []byte(input))
		if tomllimit.Check([]byte(input), tomllimit.MaxDepth) != nil && err == nil {
			t.Fatalf("a document nesting deeper than %d levels was accepted", tomllimit.MaxDepth)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), confPath) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if cfg.PollInterval < 100*time.Millisecond || cfg.Tables.MaxConcurrent < 1 || !filepath.IsAbs(cfg.StateDir) {
			t.Fatalf("accepted out-of-range settings: %+v", cfg)
		}
	})
}
