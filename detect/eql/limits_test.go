package eql

import (
	"strings"
	"testing"
)

// Over-long input is refused before any pattern is compiled.
func TestLimits(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`any where a : "` + strings.Repeat("a*", MaxLiteralLen) + `"`, "literal longer than"},
		{`any where ` + strings.Repeat("b", MaxLiteralLen+1) + ` == 1`, "literal longer than"},
		{`any where a == "` + strings.Repeat("a", maxQueryLen) + `"`, "query longer than"},
	} {
		if _, err := Compile(tc.src, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%.30q...) = %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := Compile(`any where a : "`+strings.Repeat("a", MaxLiteralLen)+`"`, Options{}); err != nil {
		t.Errorf("a literal at the limit: %v", err)
	}
}
