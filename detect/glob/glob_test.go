package glob

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		opts    Options
		input   string
		want    bool
	}{
		{"/tmp/*", Options{}, "/tmp/x", true},
		{"/tmp/*", Options{}, "/tmp/", true},
		{"/tmp/*", Options{}, "/tmpx", false},
		{"/tmp/*", Options{}, "/TMP/x", false},
		{"/tmp/*", Options{Fold: true}, "/TMP/x", true},
		{"./*", Options{}, "./a.out", true},
		{"/etc/rc*.d/*", Options{}, "/etc/rc3.d/S01x", true},
		{"/etc/rc*.d/*", Options{}, "/etc/rc.local", false},
		{"/etc/cron.*", Options{}, "/etc/cron.daily", true},
		{"/etc/crontab", Options{}, "/etc/crontab", true},
		{"/etc/crontab", Options{}, "/etc/crontabx", false},
		{"/*/.*", Options{}, "/home/.x", true},
		{"/*/.*", Options{}, "/root/.ssh/id", true},
		{"/*/.*", Options{}, "/usr/bin/ls", false},
		{"*a*b*a*", Options{}, "xxaxxbxxaxx", true},
		{"*a*b*a*", Options{}, "xxaxxbxx", false},
		{"*.sh", Options{}, "a.sh.sh", true},
		{"a?c", Options{Single: true}, "abc", true},
		{"a?c", Options{Single: true}, "ac", false},
		{"a?c", Options{}, "abc", false},
		{"a?c", Options{}, "a?c", true},
		{"a?c", Options{Single: true}, "aéc", true},
		{`a\*b`, Options{Escape: true}, "a*b", true},
		{`a\*b`, Options{Escape: true}, "axb", false},
		{`a\*b`, Options{}, `a\xyzb`, true},
		{"*", Options{}, "", true},
		{"", Options{}, "", true},
		{"", Options{}, "x", false},
		{"*CURL*", Options{Fold: true}, "/usr/bin/curl -s", true},
		{"ÄB*", Options{Fold: true}, "äbc", true},
		{"**a", Options{}, "ba", true},
		{"a*", Options{Single: true, Fold: true}, "A", true},
		{"?", Options{Single: true}, "", false},
		{"*?", Options{Single: true}, "", false},
		{"*?", Options{Single: true}, "x", true},
	}
	for _, tt := range tests {
		got := Compile(tt.pattern, tt.opts).Match(tt.input)
		if got != tt.want {
			t.Errorf("Compile(%q, %+v).Match(%q) = %v, want %v", tt.pattern, tt.opts, tt.input, got, tt.want)
		}
	}
}

// FuzzMatch checks the matcher against an equivalent regular expression.
func FuzzMatch(f *testing.F) {
	f.Add("/tmp/*", "/tmp/abc", true, false)
	f.Add("*a?b*", "xxAyb", true, true)
	f.Add("a**b", "ab", false, false)
	f.Fuzz(func(t *testing.T, pattern, input string, single, fold bool) {
		if len(pattern) > 64 || len(input) > 256 {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		if fold {
			re.WriteString(`(?i)`)
		}
		for _, r := range pattern {
			switch {
			case r == '*':
				re.WriteString(`.*`)
			case r == '?' && single:
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`$`)
		rx, err := regexp.Compile(re.String())
		if err != nil {
			return
		}
		// Unicode case folding differs between the two for a few
		// special runes; compare on ASCII when folding.
		if fold && (!isASCII(pattern) || !isASCII(input)) {
			return
		}
		if !isValidUTF8(pattern) || !isValidUTF8(input) {
			return
		}
		want := rx.MatchString(input)
		got := Compile(pattern, Options{Single: single, Fold: fold}).Match(input)
		if got != want {
			t.Fatalf("pattern %q input %q single=%v fold=%v: got %v, regexp says %v", pattern, input, single, fold, got, want)
		}
	})
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func BenchmarkMatch(b *testing.B) {
	patterns := []*Pattern{
		Compile("/tmp/*", Options{Fold: true}),
		Compile("/etc/rc*.d/*", Options{Fold: true}),
		Compile("*/.*", Options{}),
	}
	inputs := []string{"/usr/bin/bash", "/tmp/payload", "/etc/rc3.d/S99x", "/home/user/.cache/x"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, p := range patterns {
			for _, in := range inputs {
				p.Match(in)
			}
		}
	}
}
