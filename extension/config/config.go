// Package config reads the extension's settings file.
//
// osqueryd starts extensions without arguments of our choosing, so the
// settings live in a TOML file: $OSQDETECT_CONFIG when set, else
// /etc/osquery/osqdetect.conf. A missing file means defaults. A file that
// is present but wrong is one error naming the file, the line and the
// setting, for example
//
//	/etc/osquery/osqdetect.conf:7: poll_interval: invalid duration "2 seconds"
//
// Unknown settings are errors too, so a typo is not silently ignored.
// testdata/osqdetect.conf documents every setting with its default.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/osqdetect/osqdetect/internal/inputfile"
)

// Environment variables and default locations.
const (
	// EnvConfig names the settings file, overriding DefaultPath.
	EnvConfig = "OSQDETECT_CONFIG"
	// EnvStateDir overrides the state_dir setting.
	EnvStateDir = "OSQDETECT_STATE_DIR"
	// DefaultPath is the settings file read when EnvConfig is unset.
	DefaultPath = "/etc/osquery/osqdetect.conf"
	// DefaultStateDir holds the alert store and the engine's durable state.
	DefaultStateDir = "/var/osquery/osqdetect"
)

// Config is the extension's settings after defaults and validation.
type Config struct {
	// Path is the file the settings were read from. Loaded is false when
	// that file did not exist and every setting is a default.
	Path   string
	Loaded bool

	// RuleDirs are extra directories of rule files (*.toml), read after
	// the bundled rules. Relative paths are relative to the settings file.
	RuleDirs []string
	// DisabledRules are rule ids that are loaded but never run.
	DisabledRules []string
	// PollInterval is how often the event tables are read.
	PollInterval time.Duration
	// StateDir holds the alert store; $OSQDETECT_STATE_DIR overrides it.
	StateDir string
	// LogLevel is the least severe level logged.
	LogLevel slog.Level

	Retention Retention
	RateLimit RateLimit
	Engine    Engine
	Tables    Tables
}

// Retention bounds the alert store. Zero disables a bound.
type Retention struct {
	// MaxAge drops alerts whose event time is older than this.
	MaxAge time.Duration
	// MaxCount keeps at most this many alerts, dropping the oldest.
	MaxCount int
	// PruneInterval is how often the bounds are applied.
	PruneInterval time.Duration
}

// RateLimit caps alerts per rule. Rules default to their own max_signals
// per interval (Kibana's limit); Rules overrides that per rule id.
type RateLimit struct {
	// Disabled turns rate limiting off: every alert is stored.
	Disabled bool
	// Rules maps a rule id to the alerts it may raise per rule interval.
	Rules map[string]int
}

// Engine bounds the detection engine's memory.
type Engine struct {
	// ProcessCacheSize is the most processes remembered for enrichment.
	ProcessCacheSize int
	// MaxPendingSequences is the most partially matched EQL sequences held.
	MaxPendingSequences int
}

// Tables tunes the osquery tables the extension serves.
type Tables struct {
	// Timeout bounds one table read.
	Timeout time.Duration
	// MaxConcurrent is how many reads of one table may run at once;
	// further reads fail at once with a "busy" error.
	MaxConcurrent int
}

// Defaults returns the settings used when the file does not set them.
func Defaults() Config {
	return Config{
		Path:         DefaultPath,
		PollInterval: 2 * time.Second,
		StateDir:     DefaultStateDir,
		LogLevel:     slog.LevelInfo,
		Retention: Retention{
			MaxAge:        720 * time.Hour,
			MaxCount:      100000,
			PruneInterval: 10 * time.Minute,
		},
		RateLimit: RateLimit{Rules: map[string]int{}},
		Engine: Engine{
			ProcessCacheSize:    100000,
			MaxPendingSequences: 10000,
		},
		Tables: Tables{
			Timeout:       30 * time.Second,
			MaxConcurrent: 4,
		},
	}
}

// PathFromEnv returns $OSQDETECT_CONFIG, or DefaultPath when it is unset.
func PathFromEnv() string {
	if p := os.Getenv(EnvConfig); p != "" {
		return p
	}
	return DefaultPath
}

// LoadFromEnv loads the settings file named by the environment.
func LoadFromEnv() (Config, error) { return Load(PathFromEnv()) }

// MaxFileSize is the largest settings file read (the documented example is
// 3 KB; a list of every Elastic rule id to disable would be 60 KB).
const MaxFileSize = 256 << 10

// Load reads the settings file at path: a regular file (a named pipe is
// refused, never waited on) of at most MaxFileSize bytes. A missing file
// yields Defaults (with Loaded false); $OSQDETECT_STATE_DIR, when set,
// overrides state_dir. Any other problem is one error of the form
// "path:line: setting: problem".
func Load(path string) (Config, error) {
	data, err := inputfile.Read(path, MaxFileSize)
	var cfg Config
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cfg = Defaults()
		cfg.Path = path
	case err != nil:
		return Config{}, fmt.Errorf("reading settings: %w", err)
	default:
		cfg, err = Parse(path, data)
		if err != nil {
			return Config{}, err
		}
	}
	if dir := os.Getenv(EnvStateDir); dir != "" {
		if !filepath.IsAbs(dir) {
			return Config{}, fmt.Errorf("%s: state directory %q must be an absolute path", EnvStateDir, dir)
		}
		cfg.StateDir = filepath.Clean(dir)
	}
	return cfg, nil
}
