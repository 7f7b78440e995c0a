package rules_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/rules"
)

// minCorpusLoaded is the floor of Elastic corpus rules that must load: 85%
// of the 357 Linux process and network rules.
const minCorpusLoaded = 304

// TestElasticCorpus loads every rule of the corpus and checks that the
// share that loads does not regress and that every rejection names why.
func TestElasticCorpus(t *testing.T) {
	base := filepath.Join(testutil.SharedDir(), "elastic-rules")
	dirs := []string{filepath.Join(base, "rules"), filepath.Join(base, "rules_building_block")}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Skip("elastic rule corpus not found:", err)
		}
	}
	set, err := rules.Load(dirs, rules.LoadOptions{SkipBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	rejected := set.Rejected()
	loaded := len(set.Status) - len(rejected)
	reasons := map[string]int{}
	for _, st := range rejected {
		if !strings.HasPrefix(st.Error, st.Meta.Source+": ") || len(st.Error) < len(st.Meta.Source)+10 {
			t.Errorf("rejection of %s does not say why: %q", st.Meta.Source, st.Error)
		}
		reasons[reasonKind(st.Error)]++
	}
	var kinds []string
	for k := range reasons {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("rejected %3d: %s", reasons[k], k)
	}
	t.Logf("corpus: %d files, %d loaded, %d rejected", len(set.Status), loaded, len(rejected))
	if len(set.Status) != 357 {
		t.Errorf("corpus has %d rule files, want 357", len(set.Status))
	}
	if loaded < minCorpusLoaded {
		t.Errorf("only %d corpus rules load, want at least %d", loaded, minCorpusLoaded)
	}
}

// reasonKind strips the file and position from a rejection to group them.
func reasonKind(msg string) string {
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	if strings.HasPrefix(msg, "line ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	if len(msg) > 90 {
		msg = msg[:90]
	}
	return msg
}
