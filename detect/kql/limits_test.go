package kql

import (
	"strings"
	"testing"
)

// Over-long input is refused before any value is compiled.
func TestLimits(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"process.name:" + strings.Repeat("a", MaxValueLen+1), "value longer than"},
		{`process.name:"` + strings.Repeat("a*", MaxValueLen) + `"`, "value longer than"},
		{strings.Repeat("a:b or ", MaxQueryLen/7+1) + "a:b", "query longer than"},
	} {
		if _, err := Compile(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%.30q...) = %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := Compile("process.name:" + strings.Repeat("a", MaxValueLen)); err != nil {
		t.Errorf("a value at the limit: %v", err)
	}
}
