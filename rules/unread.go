package rules

import (
	"bytes"
	"unicode/utf8"
)

// unreadKeys are top-level keys of Elastic rule files that Parse never
// reads and that hold most of a file's bytes: the investigation guide and
// the setup notes, multi-line strings of several kilobytes each.
var unreadKeys = [][]byte{[]byte(`note = """`), []byte(`setup = """`)}

// blankUnread returns data with the text of every unread multi-line string
// (unreadKeys) replaced by its line breaks alone, so that the TOML decoder
// does not spend most of its time on text nothing reads; lines, and the
// columns of every other line, stay where they were, so any error names
// the same place. A string is blanked only when its text is plain: simple
// escapes, no control characters but tabs and line breaks, valid UTF-8,
// and the closing quotes (which move to the start of their line) at the
// end of a line. Whatever text the
// scan does not understand is left as it is, for the decoder to judge.
// data is not modified.
func blankUnread(data []byte) []byte {
	var out []byte // nil until a string is blanked
	done := 0      // data[:done] is in out
	for i := 0; i < len(data); {
		switch c := data[i]; {
		case c == '#':
			i = lineEnd(data, i)
		case c == '"' || c == '\'':
			if i > 0 && bytes.IndexByte([]byte("= \t\n[{,"), data[i-1]) < 0 {
				// Not where a value starts: leave the file to the decoder.
				return orData(out, data, done)
			}
			end, ok := stringEnd(data, i)
			if !ok {
				return orData(out, data, done)
			}
			i = end
		case (i == 0 || data[i-1] == '\n') && unreadKeyAt(data, i) > 0:
			open := i + unreadKeyAt(data, i)
			end, ok := plainMultiline(data, open)
			if !ok {
				return orData(out, data, done)
			}
			out = append(out, data[done:open]...)
			for range bytes.Count(data[open:end-3], []byte{'\n'}) {
				out = append(out, '\n')
			}
			out = append(out, `"""`...)
			done, i = end, end
		default:
			i++
			if c != '\n' {
				// Up to the next byte the cases above look at: no byte
				// skipped starts a line, as a line break stops the skip.
				for i < len(data) && !blankStop[data[i]] {
					i++
				}
			}
		}
	}
	return orData(out, data, done)
}

// blankStop marks the bytes blankUnread's scan stops at: a comment, a
// quote, and a line break (the next byte starts a line).
var blankStop = byteTable("#\"'\n")

// plainStop marks the bytes plainMultiline looks at: an escape, a quote,
// and the control characters plain text has none of (all but tab and
// line break).
var plainStop = func() [256]bool {
	t := byteTable("\\\"\x7f")
	for c := range 0x20 {
		t[c] = c != '\t' && c != '\n'
	}
	return t
}()

// byteTable marks the bytes of s.
func byteTable(s string) [256]bool {
	var t [256]bool
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// orData finishes out, or returns data when nothing was blanked.
func orData(out, data []byte, done int) []byte {
	if out == nil {
		return data
	}
	return append(out, data[done:]...)
}

// unreadKeyAt returns the length of the unread key and opening quotes at
// data[i:], or 0.
func unreadKeyAt(data []byte, i int) int {
	for _, k := range unreadKeys {
		if bytes.HasPrefix(data[i:], k) {
			return len(k)
		}
	}
	return 0
}

func lineEnd(data []byte, i int) int {
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(data)
}

// stringEnd returns the end of the TOML string starting at data[i] (basic
// or literal, one line or multi-line); ok is false when it has none.
func stringEnd(data []byte, i int) (end int, ok bool) {
	q := data[i]
	if i+2 < len(data) && data[i+1] == q && data[i+2] == q {
		for j := i + 3; j+2 < len(data); j++ {
			switch {
			case q == '"' && data[j] == '\\':
				j++
			case data[j] == q && data[j+1] == q && data[j+2] == q:
				j += 3
				for j < len(data) && data[j] == q { // up to two quotes end the text
					j++
				}
				return j, true
			}
		}
		return 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch {
		case data[j] == '\n':
			return 0, false
		case q == '"' && data[j] == '\\':
			j++
		case data[j] == q:
			return j + 1, true
		}
	}
	return 0, false
}

// plainMultiline returns the end (past the closing quotes) of the
// multi-line basic string whose text starts at data[i], when that text is
// plain (see blankUnread) and its closing quotes end a line.
func plainMultiline(data []byte, i int) (end int, ok bool) {
	for j := i; j < len(data); j++ {
		if !plainStop[data[j]] {
			continue
		}
		switch c := data[j]; {
		case c == '\\':
			if j+1 >= len(data) {
				return 0, false
			}
			switch data[j+1] {
			case 'b', 't', 'n', 'f', 'r', '"', '\\':
				j++
			default:
				return 0, false
			}
		case c == '"':
			if j+2 >= len(data) || data[j+1] != '"' || data[j+2] != '"' {
				continue
			}
			if j+3 < len(data) && data[j+3] != '\n' || !utf8.Valid(data[i:j]) {
				return 0, false
			}
			return j + 3, true
		case c == 0x7f || (c < 0x20 && c != '\t' && c != '\n'):
			return 0, false
		}
	}
	return 0, false
}
