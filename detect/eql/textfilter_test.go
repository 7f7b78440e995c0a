package eql

import (
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/glob"
)

// TestTextFilter: a filter never rules out a member, and rules out text of
// a length or first byte no member has.
func TestTextFilter(t *testing.T) {
	long := strings.Repeat("x", 63)
	members := []string{"", "bash", "sh", "zsh", long, long + "yz", "\xff\xfe"}
	var f textFilter
	for _, m := range members {
		f.add(m)
	}
	for _, m := range members {
		if !f.mayHold(m) {
			t.Errorf("mayHold(%q) = false for a member", m)
		}
	}
	tests := []struct {
		s    string
		want bool
	}{
		{"dash", false},    // no member starts with d
		{"bsh", true},      // the length of one member, the first byte of another
		{"zsh", true},      // a member
		{"shell", false},   // no member is 5 bytes long
		{"sx", true},       // same length and first byte as "sh"
		{long + "x", true}, // 64 bytes: longer ones share one bit
		{strings.Repeat("y", 70), false},
		{"\xff\xff", true},
	}
	for _, tc := range tests {
		if got := f.mayHold(tc.s); got != tc.want {
			t.Errorf("mayHold(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
	var empty textFilter
	if empty.mayHold("") || empty.mayHold("a") {
		t.Error("an empty filter holds something")
	}
}

// checkGlobFilters fails when a glob's end bytes, or the end filter of a
// set of globs, rule out text a glob matches.
func checkGlobFilters(t *testing.T, patterns []string, s string) {
	t.Helper()
	var f endFilter
	matched := false
	for _, src := range patterns {
		g := glob.Compile(src, glob.Options{Single: true})
		e := globEndOf(g)
		f.add(e)
		if g.Match(s) {
			matched = true
			if e.rulesOut(s) {
				t.Fatalf("the ends of %q rule out %q, which it matches", src, s)
			}
		}
	}
	if matched && !f.mayMatch(s) {
		t.Fatalf("the end filter of %q rules out %q, which one matches", patterns, s)
	}
}

func TestGlobFilters(t *testing.T) {
	patterns := []string{"python*", "*/zoom", "*x*", "?ash", "a*b", "", "*", "é*", "*\xff"}
	for _, s := range []string{"", "python3", "/usr/bin/zoom", "xx", "bash", "ab", "a", "é", "\xff", "zoom"} {
		for i := range patterns {
			checkGlobFilters(t, patterns[i:i+1], s)
		}
		checkGlobFilters(t, patterns[:2], s)
		checkGlobFilters(t, patterns[3:5], s)
		checkGlobFilters(t, patterns, s)
	}
	var f endFilter
	for _, src := range []string{"python*", "*/zoom", "perl*"} {
		f.add(globEndOf(glob.Compile(src, glob.Options{Single: true})))
	}
	for _, s := range []string{"bash", "", "zoom/x"} {
		if f.mayMatch(s) {
			t.Errorf("the end filter lets %q through", s)
		}
	}
}

func FuzzGlobFilters(f *testing.F) {
	f.Add("python*", "*/zoom", "python3")
	f.Add("?ash", "a*b", "bash")
	f.Add("*x*", "", "")
	f.Fuzz(func(t *testing.T, p1, p2, s string) {
		if len(p1)+len(p2) > 256 || len(s) > 256 {
			return
		}
		checkGlobFilters(t, []string{p1, p2}, s)
	})
}
