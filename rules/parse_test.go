package rules

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/internal/tomllimit"
)

func TestParseRejections(t *testing.T) {
	base, err := os.ReadFile("builtin/defense_evasion_symlink_binary_to_writable_dir.toml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte { return []byte(strings.Replace(string(base), old, new, 1)) }
	tests := []struct {
		name string
		data []byte
		want string // in the rejection
	}{
		{"bad TOML", []byte("[rule]\nname = \"x\n"), "line 2"},
		{"missing rule_id", edit(`rule_id = "d19a2399-f8e2-4b10-80d8-a561ce9d24d1"`, ""), "missing rule.rule_id"},
		{"bad severity", edit(`severity = "low"`, `severity = "urgent"`), `rule.severity "urgent"`},
		{"bad from", edit(`from = "now-9m"`, `from = "9 minutes ago"`), "rule.from"},
		{"bad interval", edit(`interval = "5m"`, `interval = "5 minutes"`), "rule.interval"},
		{"unsupported type", edit(`type = "new_terms"`, `type = "esql"`), `rule type "esql" is not supported`},
		{"lucene language", edit(`language = "kuery"`, `language = "lucene"`), `language "lucene"`},
		{"KQL syntax error with file line", edit(`process.parent.executable:* and`, `process.parent.executable:* and and`), "line 37, column 126"},
		{"new_terms without fields", edit(`value = ["host.id", "process.parent.name"]`, `value = []`), "new_terms rule without"},
		{"bad history window", edit(`value = "now-10d"`, `value = "ten days"`), "line 79: rule.new_terms.history_window_start"},
		{"history window overflows", edit(`value = "now-10d"`, `value = "now-106752d"`), `line 79: rule.new_terms.history_window_start: duration "106752d" overflows`},
		{"history window far beyond int64", edit(`value = "now-10d"`, `value = "now-99999999999999999999d"`), `line 79: rule.new_terms.history_window_start: invalid duration`},
		{"from overflows", edit(`from = "now-9m"`, `from = "now-153722867281m"`), `rule.from: duration "153722867281m" overflows`},
		{"nested inline tables", append(edit("", ""), "\n[x]\ny = "+strings.Repeat("{a=", 4000)+"1"+strings.Repeat("}", 4000)+"\n"...), "line 82: nesting deeper than 10 levels"},
		{"long dotted key", append(edit("", ""), "\n\nx"+strings.Repeat(".a", 4000)+" = 1\n"...), "line 82: nesting deeper than 10 levels"},
		{"oversized file", append(edit("", ""), "\n# "+strings.Repeat("x", MaxFileSize)...), "file too large"},
		{"max_signals -1", edit(`max_signals = 100`, `max_signals = -1`), "line 21: rule.max_signals: -1 is out of range"},
		{"max_signals 0", edit(`max_signals = 100`, `max_signals = 0`), "line 21: rule.max_signals: 0 is out of range"},
		{"max_signals huge", edit(`max_signals = 100`, `max_signals = 9223372036854775807`), "line 21: rule.max_signals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, st := Parse(tt.data, "x.toml")
			if r != nil || !st.Rejected {
				t.Fatalf("accepted: %+v", st)
			}
			if !strings.HasPrefix(st.Error, "x.toml: ") || !strings.Contains(st.Error, tt.want) {
				t.Errorf("rejection %q does not name the file and %q", st.Error, tt.want)
			}
		})
	}
}

func TestParseSeedMetadata(t *testing.T) {
	data, err := os.ReadFile("builtin/defense_evasion_symlink_binary_to_writable_dir.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, st := Parse(data, "builtin")
	if st.Rejected {
		t.Fatal(st.Error)
	}
	m := r.Meta
	if m.From != 9*time.Minute || m.Interval != 5*time.Minute || m.MaxSignals != 100 || m.HistoryWindow != 10*24*time.Hour ||
		strings.Join(m.NewTermsFields, ",") != "host.id,process.parent.name" || m.Severity != "low" || m.RiskScore != 21 ||
		strings.Join(m.Tactics, ",") != "TA0005" || strings.Join(m.Techniques, ",") != "T1574,T1202,T1564" {
		t.Errorf("metadata = %+v", m)
	}
}

// FuzzParse: any bytes give a rule or a rejection naming the source, never a panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"builtin/defense_evasion_symlink_binary_to_writable_dir.toml", "builtin/execution_shell_via_suspicious_binary.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[rule]\ntype = \"threshold\"\n[rule.threshold]\nfield = 3\n"))
	// The limits: nesting at and over the bound, long dotted keys, headers.
	f.Add([]byte("[rule]\nx = " + strings.Repeat("{a=", 10) + "1" + strings.Repeat("}", 10) + "\n"))
	f.Add([]byte("[rule]\nx = " + strings.Repeat("{a=", 11) + "1" + strings.Repeat("}", 11) + "\n"))
	f.Add([]byte("rule" + strings.Repeat(".a", 12) + " = 1\n"))
	f.Add([]byte("[[rule" + strings.Repeat(".a", 9) + "]]\n"))
	f.Add([]byte("[rule]\nquery = '''\n{{{{{{{{{{{{\n'''\nmax_signals = -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, st := Parse(data, "fuzz.toml")
		if tomllimit.Check(data, tomllimit.MaxDepth) != nil && !st.Rejected {
			t.Fatalf("a document nesting deeper than %d levels was accepted", tomllimit.MaxDepth)
		}
		if r != nil && r.Meta.MaxSignals < 0 {
			t.Fatalf("negative max_signals accepted: %d", r.Meta.MaxSignals)
		}
		if (r == nil) != st.Rejected {
			t.Fatalf("rule %v but rejected=%v", r != nil, st.Rejected)
		}
		if st.Rejected && !strings.HasPrefix(st.Error, "fuzz.toml: ") {
			t.Fatalf("rejection does not name the source: %q", st.Error)
		}
	})
}

func TestRuleFilesAreCounted(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.toml", "b.toml", "c.toml", "notes.md"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if files, err := ruleFiles(dir, 3); err != nil || len(files) != 3 {
		t.Errorf("at the cap: %v, %v", files, err)
	}
	if _, err := ruleFiles(dir, 2); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "more than 2 rule files") {
		t.Errorf("over the cap: %v, want an error naming the directory", err)
	}
}
