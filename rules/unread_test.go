package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

// decodeBoth decodes data as it is and blanked, and fails when the two
// differ in what Parse reads or in the error.
func decodeBoth(t *testing.T, data []byte) {
	t.Helper()
	var whole, blanked ruleFile
	_, errWhole := toml.Decode(string(data), &whole)
	_, errBlanked := toml.Decode(string(blankUnread(data)), &blanked)
	if (errWhole == nil) != (errBlanked == nil) || (errWhole != nil && errWhole.Error() != errBlanked.Error()) {
		t.Fatalf("errors differ:\nwhole   %v\nblanked %v\ninput %q", errWhole, errBlanked, data)
	}
	if !reflect.DeepEqual(whole, blanked) {
		t.Fatalf("decoded files differ:\nwhole   %+v\nblanked %+v\ninput %q", whole, blanked, data)
	}
}

func TestBlankUnread(t *testing.T) {
	cases := []struct {
		name, in string
		blanked  bool
	}{
		{"guide", "[rule]\nname = \"x\"\nnote = \"\"\"## Triage\nsome \\\\ text \"quoted\"\n\"\"\"\nquery = '''a'''\n", true},
		{"setup", "[rule]\nsetup = \"\"\"## Setup\n\tline\n\"\"\"\n", true},
		{"inside another string", "[rule]\ndescription = \"\"\"\nnote = \"\"\"x\n\"\"\"\n", false},
		{"inside a literal string", "[rule]\ndescription = '''\nnote = \"\"\"x\n'''\n\"\"\"\n", false},
		{"after a comment", "# note = \"\"\"\nnote = \"\"\"x\n\"\"\"\n", true},
		{"unicode escape", "note = \"\"\"\\u00e9\n\"\"\"\n", false},
		{"bad escape", "note = \"\"\"\\q\n\"\"\"\nname = 1\n", false},
		{"line-ending backslash", "note = \"\"\"a \\\nb\n\"\"\"\n", false},
		{"closing after text", "note = \"\"\"a\nb\"\"\"\n", true},
		{"closing before a comment", "note = \"\"\"a\nb\"\"\" # c\n", false},
		{"closing at the end", "note = \"\"\"a\nb\"\"\"", true},
		{"closing with a quote more", "note = \"\"\"a\n\"\"\"\"\n", false},
		{"control character", "note = \"\"\"a\x01\n\"\"\"\n", false},
		{"carriage return", "note = \"\"\"a\r\n\"\"\"\r\n", false},
		{"invalid UTF-8", "note = \"\"\"a\xff\n\"\"\"\n", false},
		{"unterminated", "note = \"\"\"a\n", false},
		{"duplicate", "[rule]\nnote = \"\"\"a\n\"\"\"\nnote = \"\"\"b\n\"\"\"\n", true},
		{"error after", "[rule]\nnote = \"\"\"a\n\"\"\"\nname = \n", true},
		{"indented key", "[rule]\n  note = \"\"\"a\n\"\"\"\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := blankUnread([]byte(c.in))
			if got := string(out) != c.in; got != c.blanked {
				t.Errorf("blanked = %v, want %v: %q", got, c.blanked, out)
			}
			if strings.Count(string(out), "\n") != strings.Count(c.in, "\n") {
				t.Errorf("line count changed: %q", out)
			}
			decodeBoth(t, []byte(c.in))
		})
	}
}

// TestBlankUnreadCorpus: every corpus and bundled rule file decodes to the
// same thing blanked, and most are blanked.
func TestBlankUnreadCorpus(t *testing.T) {
	var files []string
	builtin, _ := filepath.Glob("builtin/*.toml")
	files = append(files, builtin...)
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
	blanked := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(blankUnread(data)) < len(data) {
			blanked++
		}
		decodeBoth(t, data)
	}
	t.Logf("%d of %d files blanked", blanked, len(files))
	if len(files) > 100 && blanked < len(files)/2 {
		t.Errorf("only %d of %d files blanked", blanked, len(files))
	}
}

// FuzzBlankUnread: whatever the bytes, the TOML decoder reads the same
// rule, or fails with the same error, blanked or not.
func FuzzBlankUnread(f *testing.F) {
	f.Add([]byte("[rule]\nnote = \"\"\"## x\n\"\"\"\nname = \"n\"\n"))
	f.Add([]byte("[rule]\ndescription = '''\nnote = \"\"\"x\n'''\nsetup = \"\"\"a\\\\b\n\"\"\"\n"))
	f.Add([]byte("a = \"x\\\"\" # note\nsetup = \"\"\"\"a\n\"\"\"\n[rule]\nname = 'q'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		decodeBoth(t, data)
	})
}

// TestLineKey: lineKey reads what ^\s*([A-Za-z_]+)\s*= captures.
func TestLineKey(t *testing.T) {
	re := regexp.MustCompile(`^\s*([A-Za-z_]+)\s*=`)
	for _, line := range []string{"query = '''", "  max_signals=5", "\tfrom\t= \"now-9m\"", "[rule]", "a.b = 1",
		"# query = x", "query", "query x = 1", "= 1", "\r\fvalue =", "key_2 = 1", "Name = 'x'", ""} {
		want := ""
		if m := re.FindStringSubmatch(line); m != nil {
			want = m[1]
		}
		if got := lineKey(line); got != want {
			t.Errorf("lineKey(%q) = %q, want %q", line, got, want)
		}
	}
}
