package normalize

import (
	"strconv"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
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
			got := c.split(line)
			want, wantN := splitArgs(line)
			if int64(len(got)) != wantN || !ecs.ArrayOf(got...).Equal(want) && !(got == nil && want.Kind == ecs.Missing) {
				t.Fatalf("round %d: split(%q) = %v, want %v (%d)", round, line, got, want, wantN)
			}
		}
	}
}
