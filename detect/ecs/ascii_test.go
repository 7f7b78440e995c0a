package ecs

import (
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// unsafeView views b as a string, as events view their sources' buffers.
func unsafeView(b []byte) string { return unsafe.String(&b[0], len(b)) }

// referenceCase is ASCIICase a byte at a time.
func referenceCase(s string) (ascii, upper bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false, false
		}
		upper = upper || ('A' <= s[i] && s[i] <= 'Z')
	}
	return true, upper
}

func checkASCII(t *testing.T, s string) {
	t.Helper()
	ascii, upper := ASCIICase(s)
	if wa, wu := referenceCase(s); ascii != wa || upper != wu {
		t.Fatalf("ASCIICase(%q) = %v, %v; want %v, %v", s, ascii, upper, wa, wu)
	}
	if !ascii {
		return
	}
	if got := string(AppendLowerASCII([]byte("pre"), s)); got != "pre"+strings.ToLower(s) {
		t.Fatalf("AppendLowerASCII(%q) = %q", s, got)
	}
}

func TestASCIICase(t *testing.T) {
	for _, s := range []string{
		"", "a", "A", "@[`{", "/usr/bin/bash", "/USR/BIN/BASH", "abcdefgh", "ABCDEFGH", "abcdefgZ",
		"Zabcdefghijklmnop", "abcdefghijklmnoZ", "\x7f\x40\x5b\x60\x7b\x00AZ", "abcdefg\x80", "é", "abcdefghé",
		"@@@@@@@@[[[[[[[[", "````````{{{{{{{{", "AAAAAAAAZZZZZZZZ",
	} {
		checkASCII(t, s)
	}
	// Every byte in every position of a word.
	for c := 0; c < 256; c++ {
		for at := 0; at < 9; at++ {
			b := []byte("xxxxxxxxx")
			b[at] = byte(c)
			checkASCII(t, string(b))
		}
	}
}

func FuzzASCIICase(f *testing.F) {
	f.Add("/usr/bin/Bash -c 'ECHO'")
	f.Add("abc\xffdef")
	f.Fuzz(func(t *testing.T, s string) { checkASCII(t, s) })
}

func TestLowerASCIIOncePerEvent(t *testing.T) {
	var e Event
	name := strings.Clone("/USR/BIN/Bash")
	low, ascii := e.LowerASCII(name)
	if !ascii || low != "/usr/bin/bash" {
		t.Fatalf("LowerASCII = %q, %v", low, ascii)
	}
	again, _ := e.LowerASCII(name)
	if again != low || len(e.lowers) != 1 {
		t.Fatalf("second call lowered again: %d entries", len(e.lowers))
	}
	if low, ascii := e.LowerASCII("Été"); ascii || low != "" {
		t.Fatalf("non-ASCII text: %q, %v", low, ascii)
	}
	if low, ascii := e.LowerASCII("plain"); !ascii || low != "plain" {
		t.Fatalf("lower-case text: %q, %v", low, ascii)
	}
	e.Reset()
	if len(e.lowers) != 0 || len(e.lowerBuf) != 0 {
		t.Fatal("Reset kept lowered texts")
	}
	// A text at the address of an earlier one, after a Reset, is lowered
	// anew.
	b := []byte("ABC")
	e.LowerASCII(unsafeView(b))
	e.Reset()
	copy(b, "XYZ")
	if low, _ := e.LowerASCII(unsafeView(b)); low != "xyz" {
		t.Fatalf("after Reset: %q", low)
	}
}
