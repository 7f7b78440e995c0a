package eql

import (
	"regexp"
	"strings"
)

// translateRegex returns the RE2 syntax of a Lucene regular expression (the
// syntax of EQL's regex and regex~), anchored.
//
// Lucene and Go (RE2) mostly agree; the translation handles where they
// differ in ways rules rely on:
//   - the pattern always matches the whole value (Lucene is anchored);
//   - '.' matches any character including newline;
//   - '^' and '$' are ordinary characters in Lucene, so they match
//     themselves here too;
//   - "..." quotes a literal string;
//   - a backslash before a letter other than the classes \d \D \s \S \w \W
//     is that letter (Lucene), not an RE2 escape such as \n or \b;
//   - \d \s \w and their negations keep their RE2 meaning (ASCII classes;
//     Lucene's are the same for ASCII input).
//
// Lucene's optional operators (~ complement, & intersection, <n-m>
// numeric ranges, @ any string, # empty) are not enabled by Elasticsearch's
// EQL; they are matched as literal characters.
func translateRegex(src string, fold bool) string {
	flags := "s"
	if fold {
		flags = "si"
	}
	return `\A(?` + flags + `:` + regexBody(src) + `)\z`
}

// regexBody translates src without the anchors and flags translateRegex
// wraps it in.
func regexBody(src string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				b.WriteString(`\\`)
				continue
			}
			i++
			e := src[i]
			switch {
			case strings.IndexByte("dDsSwW", e) >= 0:
				b.WriteByte('\\')
				b.WriteByte(e)
			case e < 0x80 && isAlnum(e):
				b.WriteByte(e)
			case e < 0x80:
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				// A multi-byte character: copy it whole.
				j := i
				for j+1 < len(src) && src[j+1]&0xC0 == 0x80 {
					j++
				}
				b.WriteString(regexp.QuoteMeta(src[i : j+1]))
				i = j
			}
		case inClass:
			switch c {
			case ']':
				inClass = false
				b.WriteByte(c)
			case '[':
				b.WriteString(`\[`)
			default:
				b.WriteByte(c)
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal in both dialects.
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '"':
			end := strings.IndexByte(src[i+1:], '"')
			if end < 0 {
				b.WriteString(`"`)
				continue
			}
			b.WriteString(regexp.QuoteMeta(src[i+1 : i+1+end]))
			i += end + 1
		case c == '^' || c == '$' || c == '~' || c == '&' || c == '<' || c == '>' || c == '@' || c == '#':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
