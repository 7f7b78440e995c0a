package glob

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	checkMatches(t, basicCases)
}

// TestMatchStars covers patterns of literals and stars only, which are
// matched greedily, and stars before literals in patterns with '?'.
func TestMatchStars(t *testing.T) {
	eql, fold, kql := Options{Single: true}, Options{Single: true, Fold: true}, Options{Escape: true}
	checkMatches(t, []matchCase{
		// head and tail stay anchored with several stars between
		{"/*/sap.com*/servlet_jsp/irj/*", kql, "/usr/sap.com/x/servlet_jsp/irj/root", true},
		{"/*/sap.com*/servlet_jsp/irj/*", kql, "x/usr/sap.com/servlet_jsp/irj/", false},
		{"/bin/chmod 777 */gravacoes/*.WAV", kql, "/bin/chmod 777 /a/gravacoes/b.WAV", true},
		{"/bin/chmod 777 */gravacoes/*.WAV", kql, "/bin/chmod 777 /a/gravacoes/b.WAV.bak", false},
		{"a*b*a", kql, "aba", true},
		{"a*b*a", kql, "ab", false},
		{"ab*b*ba", kql, "abba", false},
		{"ab*b*ba", kql, "abbba", true},
		{"a*a", kql, "a", false},
		// overlapping literals
		{"*aa*aa*", kql, "aaa", false},
		{"*aa*aa*", kql, "aaaa", true},
		{"*aa*a", kql, "aaa", true},
		{"aa*aa", kql, "aaa", false},
		{"*ab*ba*", kql, "aba", false},
		{"*ab*ba*", kql, "abba", true},
		// the leftmost place of a literal is the one to take
		{"*http*//*/api/v1/secrets*", kql, "curl -k https://10.0.0.1/api/v1/secrets?x", true},
		{"*http*//*/api/v1/secrets*", kql, "curl -k https://10.0.0.1/api/v1/pods", false},
		{"*echo*> /etc/passwd*", kql, "sh -c echo x > /etc/passwd", true},
		{"*echo*> /etc/passwd*", kql, "sh -c cat /etc/passwd > echo", false},
		{`*\x*\x*\x*`, eql, `printf \x41\x42\x43`, true},
		{`*\x*\x*\x*`, eql, `printf \x41\x42`, false},
		// stars only, and empty input
		{"***", kql, "", true},
		{"*a*", kql, "", false},
		{"*a**b*", kql, "ab", true},
		// folding with mixed case on either side
		{"*HTTP*//*/Api/V1/*", fold, "curl hTTps://h/API/v1/x", true},
		{"*HTTP*//*/Api/V1/*", fold, "curl hTTps://h/API/v2/x", false},
		{"*Ab*Cd*", fold, "xaBxCDx", true},
		{"*ab*cd*", fold, "xCDxAB", false},
		{"Ab*-*Cd", fold, "aB--cD", true},
		{"*-x*-Y*", fold, "a -X b -y c", true},
		{"*zz*", Options{Fold: true}, "ZzZ", true},
		// non-ASCII input and literals
		{"*ä*ö*", kql, "xäyöz", true},
		{"*ä*ö*", kql, "xöyäz", false},
		{"*Ä*Ö*", fold, "xÄyöz", true},
		{"*ä*ö*", fold, "XÄYÖZ", true},
		{"*é*x", kql, "ééx", true},
		// '?' among stars in EQL
		{"*<?php*?>*", eql, "echo <?php system($x); ?> > a.php", true},
		{"*<?php*?>*", eql, "echo <?php", false},
		{"*a?b*c", eql, "xxaxbyyc", true},
		{"*a?b*c", eql, "xxabyyc", false},
		{"*a?b*c", eql, "aébc", true},
		{"*?memfd:*", eql, "/memfd:x", true},
		{"*?memfd:*", eql, "memfd:x", false},
		{"*/security-credentials/?*", eql, "curl h/security-credentials/", false},
		{"*/security-credentials/?*", eql, "curl h/security-credentials/r", true},
		{"*a*?", eql, "a", false},
		{"*a*??", eql, "xaé!", true},
		{"*A?*b", fold, "xxaQB", true},
		// escapes in KQL
		{`*a\*b*c`, kql, "xa*bxc", true},
		{`*a\*b*c`, kql, "xaxbxc", false},
		{`*\\*x*`, kql, `a\bxc`, true},
		{`*\?*x*`, kql, "a?bxc", true},
		{`*a?b*`, kql, "xa?by", true},
		{`*a?b*`, kql, "xacby", false},
	})
}

type matchCase struct {
	pattern string
	opts    Options
	input   string
	want    bool
}

func checkMatches(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tt := range cases {
		p := Compile(tt.pattern, tt.opts)
		if got := p.Match(tt.input); got != tt.want {
			t.Errorf("Compile(%q, %+v).Match(%q) = %v, want %v", tt.pattern, tt.opts, tt.input, got, tt.want)
		}
		if ref := referenceMatch(p, tt.input); ref != tt.want {
			t.Errorf("reference for Compile(%q, %+v).Match(%q) = %v, want %v", tt.pattern, tt.opts, tt.input, ref, tt.want)
		}
	}
}

// TestMatchAllocs checks that matching ASCII input allocates nothing, also
// when folding.
func TestMatchAllocs(t *testing.T) {
	lines := append(append([]string(nil), missLines...), hitLines...)
	for _, opts := range []Options{{}, {Single: true}, {Single: true, Fold: true}, {Escape: true}} {
		for _, src := range append(append([]string(nil), ruleGlobs...), ruleGlobsSingle...) {
			p := Compile(src, opts)
			allocs := testing.AllocsPerRun(10, func() {
				for _, s := range lines {
					p.Match(s)
				}
			})
			if allocs != 0 {
				t.Errorf("Compile(%q, %+v).Match allocates %v times", src, opts, allocs)
			}
		}
	}
}

var basicCases = []matchCase{
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

// TestIsASCII places one non-ASCII byte at every position of strings of
// lengths around the eight-byte blocks isASCII reads.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 25; n++ {
		s := strings.Repeat("\x7f", n)
		if !isASCII(s) {
			t.Errorf("isASCII(%q) = false", s)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b := []byte(s)
				b[i] = c
				if isASCII(string(b)) {
					t.Errorf("isASCII(%q) = true", b)
				}
			}
		}
	}
}

func TestEnds(t *testing.T) {
	tests := []struct {
		src        string
		fold       bool
		head, tail string
	}{
		{"python*", false, "python", ""},
		{"*/zoom", false, "", "/zoom"},
		{"*x*", false, "", ""},
		{"a*b?c", false, "a", "c"},
		{"lit", false, "lit", "lit"},
		{"", false, "", ""},
		{"PY*Z", true, "py", "z"},
	}
	for _, tc := range tests {
		head, tail := Compile(tc.src, Options{Single: true, Fold: tc.fold}).Ends()
		if head != tc.head || tail != tc.tail {
			t.Errorf("Ends(%q) = %q, %q, want %q, %q", tc.src, head, tail, tc.head, tc.tail)
		}
	}
}
