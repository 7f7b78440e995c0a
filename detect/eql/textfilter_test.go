package eql

import (
	"strings"
	"testing"
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
