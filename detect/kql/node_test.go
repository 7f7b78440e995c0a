package kql

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/glob"
)

func TestGlobShape(t *testing.T) {
	cases := []struct {
		src   string
		shape shape
		lit   string
	}{
		{`abc*`, shapePrefix, "abc"},
		{`abc**`, shapePrefix, "abc"},
		{`*abc`, shapeSuffix, "abc"},
		{`**abc`, shapeSuffix, "abc"},
		{`*abc*`, shapeInfix, "abc"},
		{`a\**`, shapePrefix, "a*"},
		{`\**`, shapePrefix, "*"},
		{`*\\x`, shapeSuffix, `\x`},
		{`*a\*b*`, shapeInfix, "a*b"},
		{`a*b`, shapeOther, ""},
		{`*a*b*`, shapeOther, ""},
		{`/*/.*`, shapeOther, ""},
		{`*`, shapeOther, ""},
		{`abc`, shapeOther, ""},
	}
	for _, c := range cases {
		sh, lit := globShape(c.src)
		if sh != c.shape || lit != c.lit {
			t.Errorf("globShape(%q) = %v %q, want %v %q", c.src, sh, lit, c.shape, c.lit)
		}
	}
}

// TestPatternShapesAgreeWithGlob checks the inline prefix/suffix/infix
// paths against the general glob matcher.
func TestPatternShapesAgreeWithGlob(t *testing.T) {
	sources := []string{`ab*`, `*ab`, `*ab*`, `a\**`, `*\\*`, `*a\*b*`, `a*b`, `**`, `*.*`, `\*`}
	inputs := []string{"", "a", "ab", "abc", "cab", "cabc", "a*", "a*b", "xa*by", `\`, `x\`, ".", "a.b", "*"}
	for _, src := range sources {
		var m matcher
		m.build(fieldRef{name: "f"}, []term{wordTerm("", src, true)})
		p := glob.Compile(src, glob.Options{Escape: true})
		for _, in := range inputs {
			if got, want := m.str(in), p.Match(in); got != want {
				t.Errorf("pattern %q on %q: matcher %v, glob %v", src, in, got, want)
			}
		}
	}
}
