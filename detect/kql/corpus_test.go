package kql

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

// minCorpusCompiled is how many KQL rules of the shared Elastic corpus must
// compile; it may only go up.
const minCorpusCompiled = 57

type corpusRule struct {
	path, query string
}

func loadKQLCorpus(t testing.TB) []corpusRule {
	t.Helper()
	root := filepath.Join(testutil.SharedDir(), "elastic-rules")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("rule corpus not available: %v", err)
	}
	var rules []corpusRule
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".toml") {
			return err
		}
		var doc struct {
			Rule struct {
				Language string `toml:"language"`
				Query    string `toml:"query"`
			} `toml:"rule"`
		}
		if _, err := toml.DecodeFile(path, &doc); err != nil {
			t.Errorf("decoding %s: %v", path, err)
			return nil
		}
		if doc.Rule.Language == "kuery" {
			rel, _ := filepath.Rel(root, path)
			rules = append(rules, corpusRule{path: rel, query: doc.Rule.Query})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].path < rules[j].path })
	return rules
}

// TestCorpus compiles every KQL rule of the shared Elastic corpus and runs
// each compiled query over a few events.
func TestCorpus(t *testing.T) {
	rules := loadKQLCorpus(t)
	events := fuzzEvents(t)
	compiled := 0
	for _, r := range rules {
		q, err := Compile(r.query)
		if err != nil {
			t.Errorf("%s: %v", r.path, err)
			continue
		}
		compiled++
		for _, e := range events {
			q.Match(e)
		}
		if len(q.Fields) == 0 {
			t.Errorf("%s: compiled query reads no fields", r.path)
		}
	}
	t.Logf("compiled %d of %d KQL rules", compiled, len(rules))
	if compiled < minCorpusCompiled {
		t.Errorf("compiled %d KQL rules, want at least %d", compiled, minCorpusCompiled)
	}
}
