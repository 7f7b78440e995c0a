package ecs

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestPatternKey(t *testing.T) {
	star := func(s string) func(int) bool { return func(i int) bool { return s[i] == '*' || s[i] == '?' } }
	cases := []struct {
		pattern string
		key     string
		kind    KeyKind
		ok      bool
	}{
		{"bash", "bash", KeyExact, true},
		{"", "", KeyExact, false},
		{"/tmp/*", "/tmp/", KeyPrefix, true},
		{"*.sh", ".sh", KeySuffix, true},
		{"*", "", 0, false},
		{"**", "", 0, false},
		{"*ab*", "", 0, false}, // too short to narrow
		{"*curl*", "curl", KeyContains, true},
		{"*http*//*/api/v1/secrets*", "/api/v1/secrets", KeyContains, true},
		// A short anchored literal gives way to a longer inner one...
		{"/*/sap.com*/servlet_jsp/irj/*", "/servlet_jsp/irj/", KeyContains, true},
		{"?:\\ProgramData\\*", ":\\ProgramData\\", KeyContains, true},
		// ...but not when it is long enough or at least as long.
		{"/usr/*/lib*", "/usr/", KeyPrefix, true},
		{"/b*ab*", "/b", KeyPrefix, true},
		{"*ab*/etc/passwd", "/etc/passwd", KeySuffix, true},
		{"a*bc", "bc", KeySuffix, true},
	}
	for _, c := range cases {
		key, kind, ok := PatternKey(c.pattern, star(c.pattern))
		if key != c.key || kind != c.kind || ok != c.ok {
			t.Errorf("PatternKey(%q) = %q, %d, %v; want %q, %d, %v", c.pattern, key, kind, ok, c.key, c.kind, c.ok)
		}
	}
}

func TestPrefilterHolds(t *testing.T) {
	p := Prefilter{Field: "process.args", Values: []string{"-c"}, Prefixes: []string{"/tmp/"},
		Suffixes: []string{".sh"}, Contains: []string{"base64"}, Fold: true}
	cases := []struct {
		v    Value
		want bool
	}{
		{ArrayOf(Str("bash"), Str("-C")), true},
		{Str("/TMP/x"), true},
		{Str("run.SH"), true},
		{Str("echo aGk= | BASE64 -d"), true},
		{Str("ls"), false},
		{Value{}, false},
	}
	for _, c := range cases {
		if got := p.Holds(c.v); got != c.want {
			t.Errorf("Holds(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestBestDisjunctions(t *testing.T) {
	name := []Prefilter{{Field: "process.name", Values: []string{"curl"}}}
	args := []Prefilter{{Field: "process.args", Contains: []string{"http"}}}
	broad := []Prefilter{{Field: "event.action", Values: []string{"exec"}}}
	two := []Prefilter{{Field: "process.name", Values: []string{"a"}}, {Field: "process.args", Values: []string{"b"}}}
	never := []Prefilter{}
	got := BestDisjunctions([][]Prefilter{broad, two, args, name, never}, 4)
	want := "[[] [{process.name [curl] [] [] [] false}] [{process.args [] [] [] [http] false}] [{process.name [a] [] [] [] false} {process.args [b] [] [] [] false}]]"
	if s := fmt.Sprint(got); s != want {
		t.Errorf("BestDisjunctions = %s\nwant %s", s, want)
	}
}

// FuzzPatternKey: whatever key PatternKey takes from a pattern, every
// string the pattern matches meets it. Matching strings are made by
// filling each '*' with fill and each '?' with one character.
func FuzzPatternKey(f *testing.F) {
	for _, s := range []string{"bash", "/tmp/*", "*.sh", "*curl*|*sh*", "?:\\x*", "a*bc", "*a?b*cd*", "**"} {
		f.Add(s, "xyz")
	}
	f.Fuzz(func(t *testing.T, pattern, fill string) {
		wild := func(i int) bool { return pattern[i] == '*' || pattern[i] == '?' }
		key, kind, ok := PatternKey(pattern, wild)
		if !ok {
			return
		}
		var b strings.Builder
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*':
				b.WriteString(fill)
			case '?':
				b.WriteByte('q')
			default:
				b.WriteByte(pattern[i])
			}
		}
		s := b.String()
		var holds bool
		switch kind {
		case KeyExact:
			holds = s == key
		case KeyPrefix:
			holds = strings.HasPrefix(s, key)
		case KeySuffix:
			holds = strings.HasSuffix(s, key)
		case KeyContains:
			holds = strings.Contains(s, key)
		}
		if !holds {
			t.Fatalf("pattern %q keyed by %q (kind %d), but %q, which it matches, does not meet the key", pattern, key, kind, s)
		}
	})
}

// FuzzPlainText: PlainText's shortcut agrees with parsing every string.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"", "1", "-1.5e3", ".5", "+inf", "Infinity", "nan", "NaN", "0x1p-2", "1_000", "bash", "true", "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := strconv.ParseFloat(s, 64)
		want := s != "" && s != "true" && s != "false" && err != nil
		if got := PlainText(s); got != want {
			t.Fatalf("PlainText(%q) = %v, want %v", s, got, want)
		}
	})
}
