// Package rules loads Elastic detection-rules TOML files, unchanged, into
// compiled detect rules: the bundled seed rules and any directory a user
// adds. A file that cannot run is rejected with a reason naming the file,
// the line and the missing feature; it never stops the other rules.
package rules

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/internal/inputfile"
)

//go:embed builtin/*.toml
var builtinFS embed.FS

// LoadOptions select what Load reads.
type LoadOptions struct {
	// SkipBuiltin leaves the bundled rules out.
	SkipBuiltin bool
	// Disabled lists rule ids that are loaded but not run.
	Disabled []string
}

// Status is the outcome for one rule file: loaded (and enabled or not) or
// rejected, with the reason.
type Status struct {
	Meta    detect.RuleMeta
	Enabled bool
	// Error says why the rule was rejected; for a loaded rule it notes
	// data the rule needs that osquery events do not carry.
	Error string
	// Rejected is set when the rule could not be loaded.
	Rejected bool
}

// Set is the result of Load.
type Set struct {
	// Rules are the enabled, compiled rules.
	Rules []*detect.Rule
	// Status has one entry per rule file, loaded or rejected, sorted by
	// source then rule id.
	Status []Status
}

// Rejected returns the statuses of rejected rules.
func (s *Set) Rejected() []Status {
	var out []Status
	for _, st := range s.Status {
		if st.Rejected {
			out = append(out, st)
		}
	}
	return out
}

// Metas returns the metadata of every loaded rule.
func (s *Set) Metas() []detect.RuleMeta {
	var out []detect.RuleMeta
	for _, st := range s.Status {
		if !st.Rejected {
			out = append(out, st.Meta)
		}
	}
	return out
}

// Load reads the bundled rules (unless opts.SkipBuiltin) and every *.toml
// file under dirs. Only regular files of at most MaxFileSize bytes are read
// (a named pipe or device named *.toml is rejected, never waited on). A rule file in dirs with the rule_id of a bundled rule
// replaces it. An unreadable directory is an error; a bad rule file is a
// rejected Status.
func Load(dirs []string, opts LoadOptions) (*Set, error) {
	disabled := map[string]bool{}
	for _, id := range opts.Disabled {
		disabled[id] = true
	}
	type loaded struct {
		rule   *detect.Rule
		status Status
	}
	var all []loaded
	byID := map[string]int{}
	add := func(r *detect.Rule, st Status) {
		if !st.Rejected {
			if prev, ok := byID[st.Meta.ID]; ok {
				if all[prev].status.Meta.Source == "builtin" {
					all[prev].status.Rejected = true
					all[prev].status.Enabled = false
					all[prev].status.Error = "replaced by " + st.Meta.Source
					all[prev].rule = nil
				} else {
					st = Status{Meta: st.Meta, Rejected: true,
						Error: fmt.Sprintf("%s: duplicate rule_id %s, already loaded from %s", st.Meta.Source, st.Meta.ID, all[prev].status.Meta.Source)}
					r = nil
				}
			}
			if !st.Rejected {
				byID[st.Meta.ID] = len(all)
			}
		}
		all = append(all, loaded{r, st})
	}

	if !opts.SkipBuiltin {
		entries, err := fs.ReadDir(builtinFS, "builtin")
		if err != nil {
			return nil, fmt.Errorf("reading bundled rules: %w", err)
		}
		for _, e := range entries {
			data, err := builtinFS.ReadFile("builtin/" + e.Name())
			if err != nil {
				return nil, fmt.Errorf("reading bundled rule %s: %w", e.Name(), err)
			}
			r, st := Parse(data, "builtin")
			if st.Rejected {
				return nil, fmt.Errorf("bundled rule %s is invalid: %s", e.Name(), st.Error)
			}
			add(r, st)
		}
	}
	for _, dir := range dirs {
		files, err := ruleFiles(dir, MaxRuleFiles)
		if err != nil {
			return nil, err
		}
		for _, path := range files {
			data, err := inputfile.Read(path, MaxFileSize)
			if err != nil {
				add(nil, Status{Meta: detect.RuleMeta{Source: path}, Rejected: true, Error: err.Error()})
				continue
			}
			r, st := Parse(data, path)
			add(r, st)
		}
	}

	set := &Set{}
	for _, l := range all {
		st := l.status
		if !st.Rejected {
			st.Enabled = !disabled[st.Meta.ID]
			if st.Enabled {
				set.Rules = append(set.Rules, l.rule)
			}
		}
		set.Status = append(set.Status, st)
	}
	sort.SliceStable(set.Status, func(i, j int) bool {
		a, b := set.Status[i].Meta, set.Status[j].Meta
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.ID < b.ID
	})
	return set, nil
}

// MaxRuleFiles is the most rule files one directory may hold (Elastic's
// whole detection-rules repository has about 1,500).
const MaxRuleFiles = 10_000

// ruleFiles lists the *.toml files under dir, sorted, refusing more than
// maxFiles. dir may also be a single file.
func ruleFiles(dir string, maxFiles int) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading rule directory: %w", err)
	}
	if !info.IsDir() {
		return []string{dir}, nil
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".toml") {
			if len(files) == maxFiles {
				return fmt.Errorf("more than %d rule files", maxFiles)
			}
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading rule directory %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, nil
}

// ErrNoRules is returned by callers that need at least one rule.
var ErrNoRules = errors.New("no rules loaded")
