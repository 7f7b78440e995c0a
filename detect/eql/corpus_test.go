package eql

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

// minCorpusAccepted is the number of EQL rules of the shared corpus that
// must compile; raise it when support grows, never lower it.
const minCorpusAccepted = 298

// corpusDir returns the shared Elastic rule corpus, skipping the test when
// it is absent.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := testutil.SharedDir()
	if _, err := os.Stat(filepath.Join(dir, "elastic-rules")); err != nil {
		t.Skipf("rule corpus not found under %s (set OSQDETECT_SHARED)", dir)
	}
	return filepath.Join(dir, "elastic-rules")
}

type ruleFile struct {
	Rule struct {
		RuleID   string `toml:"rule_id"`
		Name     string `toml:"name"`
		Language string `toml:"language"`
		Query    string `toml:"query"`
	} `toml:"rule"`
}

// corpusRules returns the EQL rules of the shared corpus by path.
func corpusRules(t *testing.T) map[string]ruleFile {
	t.Helper()
	root := corpusDir(t)
	rules := map[string]ruleFile{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".toml") {
			return err
		}
		var rf ruleFile
		if _, err := toml.DecodeFile(path, &rf); err != nil {
			t.Errorf("decoding %s: %v", path, err)
			return nil
		}
		if rf.Rule.Language == "eql" {
			rel, _ := filepath.Rel(root, path)
			rules[rel] = rf
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return rules
}

func TestCorpusCompiles(t *testing.T) {
	rules := corpusRules(t)
	paths := make([]string, 0, len(rules))
	for p := range rules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	accepted := 0
	features := map[string]int{}
	for _, p := range paths {
		_, err := Compile(rules[p].Rule.Query, Options{})
		if err == nil {
			accepted++
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			features[ue.Feature]++
			t.Logf("rejected %s: %v", p, err)
			continue
		}
		t.Errorf("%s: %v", p, err)
	}
	t.Logf("EQL corpus: %d rules, %d accepted, %d rejected", len(paths), accepted, len(paths)-accepted)
	for f, n := range features {
		t.Logf("  unsupported %q: %d", f, n)
	}
	if accepted < minCorpusAccepted {
		t.Errorf("accepted %d rules, want at least %d", accepted, minCorpusAccepted)
	}
}

// The shipped seed query is the corpus rule's query, unchanged.
func TestSeedMatchesCorpus(t *testing.T) {
	rules := corpusRules(t)
	rf, ok := rules[filepath.Join("rules", "linux", "execution_shell_via_suspicious_binary.toml")]
	if !ok {
		t.Skip("seed rule not in the corpus")
	}
	if got, want := mustCompile(t, rf.Rule.Query).String(), seedQuery(t).String(); got != want {
		t.Errorf("corpus seed rule compiles to\n%s\nshipped seed to\n%s", got, want)
	}
}
