package normalize

import (
	"strconv"
	"strings"
	"testing"
)

func TestArgsCacheMatchesSplitArgs(t *testing.T) {
	var c argsCache
	lines := []string{"", "ls", "ls -la /var/log", "a  b", " lead", "trail ", strings.Repeat("x ", argsCacheMaxLen)}
	// More distinct lines than slots, so some share a slot and replace
	// each other.
	for i := 0; i < 3*argsCacheSize; i++ {
		lines = append(lines, "cmd --n "+strconv.Itoa(i))
	}
	for round := 0; round < 2; round++ {
		for _, line := range lines {
			got, gotN := c.split(line)
			want, wantN := splitArgs(line)
			if gotN != wantN || !got.Equal(want) {
				t.Fatalf("round %d: split(%q) = %v (%d), want %v (%d)", round, line, got, gotN, want, wantN)
			}
		}
	}
}
