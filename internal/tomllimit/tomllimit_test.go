package tomllimit

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int // 0: accepted
	}{
		{"flat", "a = 1\n[t]\nb = \"x\"\n", 0},
		{"inline tables at the bound", "\na = " + nested("{b=", "}", 10), 0},
		{"inline tables over the bound", "\na = " + nested("{b=", "}", 11), 2},
		{"arrays over the bound", "a = " + nested("[", "]", 11), 1},
		{"dotted key over the bound", "x = 1\ny = 2\na" + strings.Repeat(".b", 11) + " = 1", 3},
		{"table header over the bound", "[a" + strings.Repeat(".b", 10) + "]\n", 1},
		{"dotted keys inside inline tables add up", "a = " + nested("{b.c.d=", "}", 4), 1},
		{"Elastic's deepest header", "[[rule.threat.technique.subtechnique]]\nid = \"T1\"\n", 0},
		{"brackets and dots in strings do not count", "a = \"" + strings.Repeat("{[.", 100) + "\"\nb = '" + strings.Repeat("{", 100) + "'", 0},
		{"multi-line strings do not count, lines do", "a = '''\n" + strings.Repeat("{", 100) + "\n'''\nb = \"\"\"\n\\\"{{{\n\"\"\"\nc = " + nested("[", "]", 40), 7},
		{"comments do not count", "# " + strings.Repeat("{", 100) + "\na = 1", 0},
		{"many shallow tables", strings.Repeat("[[a.b]]\nc = {d = [1, 2.5]}\n", 1000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.doc), MaxDepth)
			var de *DepthError
			switch {
			case tt.line == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.line != 0 && (!errors.As(err, &de) || de.Line != tt.line):
				t.Fatalf("Check = %v, want a depth error on line %d", err, tt.line)
			}
		})
	}
}

// The real files pass.
func TestCheckAcceptsRealFiles(t *testing.T) {
	files, _ := filepath.Glob("../../rules/builtin/*.toml")
	more, _ := filepath.Glob("../../extension/config/testdata/*.conf")
	files = append(files, more...) // (rules' corpus test loads Elastic's own files through the bound)
	if len(files) < 3 {
		t.Fatalf("found %d files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(data, MaxDepth); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// What the bound buys: the costliest shapes at the bound, filling a 256 KiB
// file (the rule and settings file cap), parse within a memory bound, where
// 16 KB of unbounded nesting cost the parser 700 MB.
func TestWorstAcceptedDocumentParsesInBoundedMemory(t *testing.T) {
	const size, budget = 256 << 10, 192 << 20
	shapes := map[string]func(i int) string{
		"inline": func(i int) string { return "k" + itoa(i) + " = " + nested("{b=", "}", MaxDepth) + "\n" },
		"dotted": func(i int) string { return "k" + itoa(i) + strings.Repeat(".b", MaxDepth-1) + " = 1\n" },
		"header": func(i int) string { return "[k" + itoa(i) + strings.Repeat(".b", MaxDepth-2) + "]\n" },
	}
	for name, line := range shapes {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			for i := 0; b.Len() < size; i++ {
				b.WriteString(line(i))
			}
			doc := b.String()[:strings.LastIndexByte(b.String()[:size], '\n')+1]
			if err := Check([]byte(doc), MaxDepth); err != nil {
				t.Fatalf("refused: %v", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var v map[string]any
			if _, err := toml.Decode(doc, &v); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > budget {
				t.Errorf("parsing %d bytes allocated %d MB, want under %d MB", len(doc), alloc>>20, budget>>20)
			} else {
				t.Logf("%d bytes: %d MB allocated", len(doc), alloc>>20)
			}
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

// FuzzCheck: any input is scanned without panic, and a document Check
// accepts parses (or fails to parse) without nesting beyond the bound.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("a = {b = [1, {c = 2}]}\n"))
	f.Add([]byte("a = '''\n{{{\n'''\n"))
	f.Add([]byte("a = \"\\\"{\"\n[x.y]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Check(data, 4)
	})
}
