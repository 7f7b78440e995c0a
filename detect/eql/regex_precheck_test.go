package eql

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

const (
	ipPortPairPattern = `.*[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}:[0-9]{1,5}:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}:[0-9]{1,5}.*`
	pathThenSpace     = `/[a-z0-9\s_\-\\./]+\s`
)

// checkedCase is a Lucene regex, the conditions its precheck should
// derive, values the precheck must reject, and values that must match.
type checkedCase struct {
	pattern        string
	fold           bool
	minLen, maxLen int
	prefix, suffix string
	subs           []string
	sets           []string // each set's members, in byte order
	rejected       []string
	matching       []string
}

var checkedCases = []checkedCase{
	{
		pattern: ipPortPairPattern, minLen: 19, maxLen: -1,
		subs: []string{".", ":"}, sets: []string{"0123456789"},
		rejected: []string{"ls -la /var/log", "nc 10.0.0.1 4444", "a:b:c:d:e:f:g:h:i:j:k:l",
			// Every byte the precheck's sets and texts ask for, not in the
			// order a match holds them.
			"curl -s https://example.org/health --job=9614", "10.0.0.1 port 80: 10.0.0.2:443 ok"},
		matching: []string{"socat 10.0.0.1:80:10.0.0.2:443 x", "1.2.3.4:5:6.7.8.9:0"},
	},
	{
		pattern: pathThenSpace, fold: true, minLen: 3, maxLen: -1,
		prefix: "/", sets: []string{"\t\n\f\r "},
		rejected: []string{"/usr/bin/ls", "usr/bin/ls ", "/x", "/usr/bin/ls -la"},
		matching: []string{"/tmp/a ", "/TMP/A\t", "/./ \n"},
	},
	{
		pattern: `/var/run/\w+\.(pid|lock|reboot)`, fold: true, minLen: 14, maxLen: -1,
		prefix: "/var/run/", subs: []string{"."},
		rejected: []string{"/var/run/pid", "/var/log/x.pid", "/var/run/x_y"},
		matching: []string{"/var/run/X_1.PID", "/VAR/RUN/a.lock", "/var/run/a.loc\u212A"},
	},
	{
		// Only what both branches share: "foo".
		pattern: `.*(foo|barfoo).*`, minLen: 3, maxLen: -1,
		subs:     []string{"foo"},
		rejected: []string{"fo", "bar", "FOO"},
		matching: []string{"foo", "xbarfooy"},
	},
	{
		// No shared text: one of the first bytes must occur.
		pattern: `abc|xyz`, minLen: 3, maxLen: 3,
		sets:     []string{"ax"},
		rejected: []string{"zzz", "abcd", "ab"},
		matching: []string{"abc", "xyz"},
	},
	{
		pattern: `ab(cd)?ef`, minLen: 4, maxLen: 6,
		prefix: "ab", suffix: "ef",
		rejected: []string{"abcd", "abcdefg", "xbef", "abcdcdef"},
		matching: []string{"abef", "abcdef"},
	},
	{
		pattern: `(ab)+`, minLen: 2, maxLen: -1,
		prefix: "ab", suffix: "ab",
		rejected: []string{"a", "ba", "aba"},
		matching: []string{"ab", "ababab"},
	},
	{
		pattern: `x*`, minLen: 0, maxLen: -1,
		matching: []string{"", "xx"},
	},
	{
		pattern: `[0-9]+`, minLen: 1, maxLen: -1,
		sets:     []string{"0123456789"},
		rejected: []string{"", "abc"},
		matching: []string{"0", "4755"},
	},
	{
		pattern: `[24][0-9]{3}`, minLen: 4, maxLen: 4,
		sets:     []string{"24"},
		rejected: []string{"755", "12345", "7555", "1234"},
		matching: []string{"4755", "2000"},
	},
	{
		// Under fold, s and k have case variants outside ASCII (ſ and
		// the Kelvin sign): they are not required as text.
		pattern: `PowerShell`, fold: true, minLen: 10, maxLen: 11,
		prefix: "power", suffix: "hell",
		sets:     []string{"Ss\xc5"},
		rejected: []string{"powershel", "powerXhel1", "pwsh"},
		matching: []string{"powershell", "POWERSHELL", "power\u017fhell"},
	},
	{
		pattern: `.*kill.*`, fold: true, minLen: 4, maxLen: -1,
		subs:     []string{"ill"},
		sets:     []string{"Kk\xe2"},
		rejected: []string{"bash", "xill"},
		matching: []string{"pkill -9", "PKILL", "\u212Aill"},
	},
	{
		// Case-sensitive regex: case matters.
		pattern: `Foo.*`, minLen: 3, maxLen: -1,
		prefix:   "Foo",
		rejected: []string{"foo", "xFoo"},
		matching: []string{"Foo", "Foobar"},
	},
	{
		// A quoted literal string: its '.' is a dot.
		pattern: `"a.b"x?`, minLen: 3, maxLen: 4,
		prefix:   "a.b",
		rejected: []string{"axb", "a.bxx"},
		matching: []string{"a.b", "a.bx"},
	},
	{
		// Lucene escapes: \$ is '$', \n is 'n'.
		pattern: `\$HOME\n\w*`, minLen: 6, maxLen: -1,
		prefix:   "$HOMEn",
		rejected: []string{"$HOME\n", "HOMEn"},
		matching: []string{"$HOMEn", "$HOMEnx_1"},
	},
	{
		// '^' and '$' are ordinary characters.
		pattern: `^a$`, minLen: 3, maxLen: 3,
		prefix:   "^a$",
		rejected: []string{"a"},
		matching: []string{"^a$"},
	},
	{
		// U+FFFD also matches an invalid byte, so it is not required text.
		pattern: "a\uFFFDb", minLen: 3, maxLen: 6,
		prefix: "a", suffix: "b",
		rejected: []string{"ab"},
		matching: []string{"a\xffb", "a\uFFFDb"},
	},
	{
		pattern: `héllo.*`, fold: true, minLen: 5, maxLen: -1,
		prefix:   "h",
		subs:     []string{"llo"},
		sets:     []string{"\xc3"},
		rejected: []string{"hello"},
		matching: []string{"hÉllo", "HÉLLO world"},
	},
	{
		pattern: `.*`, minLen: 0, maxLen: -1,
		matching: []string{"", "anything"},
	},
}

func setMembers(s byteSet) string {
	var b []byte
	for c := 0; c < 256; c++ {
		if s.has(byte(c)) {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

func TestRegexPrecheckConditions(t *testing.T) {
	for _, tc := range checkedCases {
		t.Run(tc.pattern, func(t *testing.T) {
			cr, err := compileCheckedRegex(tc.pattern, tc.fold)
			if err != nil {
				t.Fatal(err)
			}
			p := cr.pre
			var sets []string
			for _, s := range p.sets {
				sets = append(sets, setMembers(s))
			}
			subs := slices.Clone(p.subs)
			sort.Strings(subs)
			if p.minLen != tc.minLen || p.maxLen != tc.maxLen || p.prefix != tc.prefix || p.suffix != tc.suffix ||
				!slices.Equal(subs, tc.subs) || !slices.Equal(sets, tc.sets) {
				t.Errorf("precheck: len %d..%d prefix %q suffix %q subs %q sets %q\n"+
					"want:     len %d..%d prefix %q suffix %q subs %q sets %q",
					p.minLen, p.maxLen, p.prefix, p.suffix, subs, sets,
					tc.minLen, tc.maxLen, tc.prefix, tc.suffix, tc.subs, tc.sets)
			}
			if p.fold != tc.fold {
				t.Errorf("fold = %v, want %v", p.fold, tc.fold)
			}
			for _, v := range tc.rejected {
				if p.mayMatch(v) {
					t.Errorf("precheck accepts %q", v)
				}
				if cr.re.MatchString(v) {
					t.Errorf("regexp matches rejected value %q", v)
				}
			}
			for _, v := range tc.matching {
				if !p.mayMatch(v) {
					t.Errorf("precheck rejects matching value %q", v)
				}
				if !cr.matchString(v) {
					t.Errorf("%q does not match", v)
				}
			}
		})
	}
}

// TestRegexPrecheckRE2 checks RE2 constructs the Lucene translation does
// not produce but the analysis must still treat soundly.
func TestRegexPrecheckRE2(t *testing.T) {
	tests := []struct {
		expr     string
		matching []string
	}{
		// Not anchored as a whole: prefix and suffix are only substrings.
		{`\Aab|cd\z`, []string{"abx", "xcd"}},
		{`\A(?:x\bab)|y\z`, []string{"zy"}},
		{`\A(?m:^ab$)\z`, []string{"ab"}},
		{`\A(?i:a)B\z`, []string{"AB", "aB"}},
		{`\A(?i:a)É\z`, []string{"AÉ", "aÉ"}},
		{`\A(?i:k)\z`, []string{"\u212A", "K"}},
		{`\A(?i:x*k)\z`, []string{"xx\u212A"}},
		{`\A[^a]\z`, []string{"\xff", "é"}},
		{`\A(?:ab){2}c{0,2}\z`, []string{"abab", "ababcc"}},
		{`\A(?:ab){2,}\z`, []string{"ababab"}},
	}
	for _, tc := range tests {
		re := regexp.MustCompile(tc.expr)
		p := precheckOf(tc.expr)
		for _, v := range tc.matching {
			if !re.MatchString(v) {
				t.Errorf("%s does not match %q", tc.expr, v)
			}
			if !p.mayMatch(v) {
				t.Errorf("precheck of %s rejects matching %q: %+v", tc.expr, v, p)
			}
		}
	}
}

func TestContainsFoldASCII(t *testing.T) {
	tests := []struct {
		s, sub string
		want   bool
	}{
		{"", "", true},
		{"abc", "", true},
		{"ABC", "abc", true},
		{"xxABc", "abc", true},
		{"xxAB", "abc", false},
		{"A:B:C", "b:c", true},
		{"a:x b:c", "b:c", true},
		{"b:", "b:c", false},
		{":c", "b:c", false},
		{"\xc5\xbf", "s", false},
	}
	for _, tc := range tests {
		if got := containsFoldASCII(tc.s, tc.sub); got != tc.want {
			t.Errorf("containsFoldASCII(%q, %q) = %v, want %v", tc.s, tc.sub, got, tc.want)
		}
	}
}

func TestRegexPrecheckDoesNotAllocate(t *testing.T) {
	cr, err := compileCheckedRegex(ipPortPairPattern, true)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("ls -la /var/log:", 4)
	if n := testing.AllocsPerRun(100, func() { cr.pre.mayMatch(value) }); n != 0 {
		t.Errorf("mayMatch allocates %v times per call", n)
	}
}

// FuzzRegexPrecheck checks that the precheck never rejects a value the
// regexp matches.
func FuzzRegexPrecheck(f *testing.F) {
	for _, tc := range checkedCases {
		for _, v := range append(slices.Clone(tc.rejected), tc.matching...) {
			f.Add(tc.pattern, v, tc.fold)
		}
	}
	f.Add(`a)|(b`, "xb", false)
	f.Add(`(?i)k`, "\u212A", false)
	f.Add(`[ſ]x`, "Sx", true)
	f.Fuzz(func(t *testing.T, pattern, value string, fold bool) {
		if len(pattern) > 256 || len(value) > 1024 {
			return
		}
		cr, err := compileCheckedRegex(pattern, fold)
		if err != nil {
			return
		}
		if cr.re.MatchString(value) && !cr.pre.mayMatch(value) {
			t.Fatalf("precheck rejects %q, which %s matches: %+v", value, cr.re, cr.pre)
		}
		checkPrefilterHolds(t, cr, value)
	})
}

// TestRegexPrecheckRandom builds patterns and values from pieces that
// exercise case folding, classes, alternations and repeats, and checks
// the precheck never rejects a value the regexp matches.
func TestRegexPrecheckRandom(t *testing.T) {
	patternPieces := []string{
		"a", "k", "s", "K", "S", "é", "ſ", "\u212A", ":", ".", `\.`, `\s`, `\w`, `\d`,
		"[a-z]", "[^a]", "[ks]", "(", ")", "|", "?", "*", "+", "{1,2}", "{2}", `"k.s"`, `\K`, "\uFFFD",
	}
	valuePieces := []string{
		"a", "A", "k", "K", "s", "S", "é", "É", "ſ", "\u212A", ":", ".", " ", "\t", "\n", "x", "1", "\xff", "\uFFFD",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(pieces []string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	compiled, matched := 0, 0
	for range 40000 {
		pattern := pick(patternPieces, 1+rng.IntN(6))
		fold := rng.IntN(2) == 0
		cr, err := compileCheckedRegex(pattern, fold)
		if err != nil {
			continue
		}
		compiled++
		for range 40 {
			value := pick(valuePieces, rng.IntN(6))
			if !cr.re.MatchString(value) {
				continue
			}
			matched++
			if !cr.pre.mayMatch(value) {
				t.Fatalf("precheck of %q (fold %v) rejects %q, which %s matches: %+v", pattern, fold, value, cr.re, cr.pre)
			}
			checkPrefilterHolds(t, cr, value)
		}
	}
	if compiled < 10000 || matched < 1000 {
		t.Errorf("weak test: %d patterns compiled, %d matches", compiled, matched)
	}
	t.Logf("%d patterns compiled, %d matches checked", compiled, matched)
}

// checkPrefilterHolds fails t when the index condition of cr's precheck
// rejects value, which cr's regexp matches: an index keyed by it would
// hide the value from the rule.
func checkPrefilterHolds(t *testing.T, cr *checkedRegex, value string) {
	t.Helper()
	if !cr.re.MatchString(value) {
		return
	}
	if p, ok := cr.pre.prefilter("process.name"); ok && !p.Holds(ecs.Str(value)) {
		t.Fatalf("index condition %+v rejects %q, which %s matches", p, value, cr.re)
	}
}
