package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/internal/testutil"
	"github.com/osqdetect/osqdetect/internal/tomllimit"
)

// decodeAgrees fails when go-toml's answer for data is kept (decodeFast)
// and BurntSushi/toml's differs from it, in the rule read or by refusing
// data. Where decodeFast declines, decodeRuleFile is BurntSushi/toml's
// own answer (which, for one field under two spellings of its key, even
// varies from run to run).
func decodeAgrees(t *testing.T, data []byte) {
	t.Helper()
	var fast ruleFile
	if !decodeFast(data, &fast) {
		return
	}
	var want, got ruleFile
	_, errWant := toml.Decode(string(data), &want)
	errGot := decodeRuleFile(data, &got)
	if errWant != nil || errGot != nil {
		t.Fatalf("go-toml decoded what BurntSushi/toml refuses:\nBurntSushi %v\ndecoded    %v\ninput %q", errWant, errGot, data)
	}
	if !reflect.DeepEqual(want, got) || !reflect.DeepEqual(want, fast) {
		t.Fatalf("rules differ:\nBurntSushi %+v\ndecoded    %+v\ninput %q", want, got, data)
	}
}

// decodeSeeds are documents on the edges of what a rule file holds: every
// field Parse reads, in the shapes TOML allows for each, and documents one
// decoder or both refuse.
var decodeSeeds = []string{
	"[metadata]\nmaturity = \"production\"\n[rule]\nrule_id = \"a\"\nname = 'n'\ntype = \"eql\"\nlanguage = \"eql\"\nquery = '''\nprocess where true\n'''\nrisk_score = 47\nmax_signals = 5\nversion = 3\ntags = [\"a\", 'b',]\n",
	"[rule]\nfrom = \"now-9m\"\ninterval = \"5m\"\ntimestamp_override = \"event.ingested\"\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[rule.threat.tactic]\nid = \"TA0002\"\n[[rule.threat.technique]]\nid = \"T1059\"\n[[rule.threat.technique.subtechnique]]\nid = \"T1059.004\"\n",
	"[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"host.id\", \"process.executable\"]\n[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-10d\"\n",
	"[rule.threshold]\nfield = [\"host.id\", \"user.name\"]\nvalue = 25\n[[rule.threshold.cardinality]]\nfield = \"source.ip\"\nvalue = 2\n",
	"[rule.threshold]\nfield = \"host.id\"\nvalue = 1\n",
	"[rule.threshold]\nfield = []\nvalue = 1\n[[rule.threshold.cardinality]]\n",
	"[rule]\nthreat = []\ntags = []\n[rule.new_terms]\nvalue = []\n",
	"[rule.threshold]\nfield = [1, 2.5, true, 1979-05-27, 07:32:00, [\"x\"], {a = 1}]\n",
	"rule = {rule_id = \"x\", threat = [{tactic = {id = \"TA1\"}, technique = [{id = \"T1\"}]}]}\n",
	"rule.rule_id = \"x\"\nrule.risk_score = 0x10\nrule.version = 1_000\nmetadata.maturity = \"\"\"\nmulti\\\n   line\"\"\"\n",
	"[rule]\nRule_ID = \"a\"\nrule_id = \"b\"\nNAME = \"c\"\n",
	"[rule]\nrisk_score = 47.0\n",
	"[rule]\nrisk_score = \"47\"\n",
	"[rule]\nmax_signals = 9223372036854775807\nrisk_score = 9223372036854775807\n",
	"[rule]\nmax_signals = -1\ntags = []\n",
	"[rule]\ntags = [\"a\", 1]\n",
	"[rule]\nname = \"a\"\nname = \"b\"\n",
	"[rule]\n[rule]\n",
	"[[rule]]\nname = \"a\"\n",
	"[rule]\nthreat = []\n[[rule.threat]]\n",
	"[rule.threat]\n[[rule.threat]]\n",
	"[rule]\nname = \"\\e\\x41\\u00e9\\U0001F600\"\ndescription = 'it''s'\n",
	"[rule]\nquery = {a = 1,\n b = 2}\n",
	"[rule]\nfrom = 2024-01-01T10:00\nname = \"x\" # comment\n",
	"[rule]\nname = \"a\\tb\"\r\ntype = \"query\"\r\n",
	"[rule]\nname = \"\x7f\"\n",
	"[rule]\nname = \"\xff\"\n",
	"\ufeff[rule]\nname = \"bom\"\n",
	"[ rule . threat ]\n'framework' = \"x\"\n",
	"[rule]\n\"rule_id\" = \"quoted\"\n\"\" = 1\n",
	"[rule]\nnote = \"\"\"a\n\"\"\"\nsetup = \"\"\"\n\"\"\"\nreferences = [\"x\"]\n",
	"[rule]\nnew_terms = 1\nthreshold = \"x\"\nmetadata = 1\n",
	"[rule.threshold]\ncardinality = [{field = \"a\", value = 1}, {field = \"b\"}]\n",
	"a = 1\na.b = 2\n",
	"[rule]\nversion = 1e3\n",
	"[rule]\nversion = +1\nrisk_score = -0\n",
	"[rule]\nname = \"\"\"\"\"\"\"\ndescription = '''''''\n",
}

// TestDecodeRuleFile: the seed documents go-toml reads read the same as
// BurntSushi/toml reads them.
func TestDecodeRuleFile(t *testing.T) {
	for _, s := range decodeSeeds {
		decodeAgrees(t, []byte(s))
	}
}

// TestDecodeRuleFileCorpus: every corpus and bundled rule file, whole and
// blanked, reads the same as BurntSushi/toml reads it, and go-toml's
// answer is the one kept.
func TestDecodeRuleFileCorpus(t *testing.T) {
	files, _ := filepath.Glob("builtin/*.toml")
	dir := filepath.Join(testutil.SharedDir(), "elastic-rules")
	if _, err := os.Stat(dir); err == nil {
		for _, sub := range []string{"rules", "rules_building_block"} {
			found, err := ruleFiles(filepath.Join(dir, sub), MaxRuleFiles)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, found...)
		}
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		decodeAgrees(t, data)
		decodeAgrees(t, blankUnread(data))
		var f ruleFile
		if !decodeFast(blankUnread(data), &f) {
			t.Errorf("%s: not decoded by go-toml", path)
		}
	}
	t.Logf("%d files", len(files))
}

// FuzzDecodersAgree: whatever the bytes (within the nesting bound Parse
// checks first), decodeRuleFile reads the same rule as BurntSushi/toml
// wherever it keeps go-toml's answer.
func FuzzDecodersAgree(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 || tomllimit.Check(data, tomllimit.MaxDepth) != nil {
			return
		}
		decodeAgrees(t, data)
	})
}
