package kql

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBrace
	tRBrace
	tColon
	tRange  // <, <=, >, >=
	tQuoted // "..."
	tWord   // an unquoted run of characters
)

// token is one lexeme. For tWord, text is the value with escapes resolved
// and glob is the same value as a glob.Options{Escape: true} pattern source
// (literal '*' and '\' escaped, wildcards bare).
type token struct {
	kind        tokKind
	pos, end    int  // byte offsets in the source
	spaceBefore bool // whitespace separates it from the previous token
	text        string
	glob        string
	wild        bool // tWord: holds an unescaped '*'
	escaped     bool // tWord: holds an escape, so it is never a keyword
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tLBrace:
		return "'{'"
	case tRBrace:
		return "'}'"
	case tColon:
		return "':'"
	case tRange:
		return "'" + t.text + "'"
	case tQuoted:
		return "quoted value " + strconv.Quote(t.text)
	}
	if k := t.keyword(); k != "" {
		return "'" + k + "'"
	}
	return "value " + strconv.Quote(t.text)
}

// keyword returns "and", "or" or "not" when the token is that keyword (in
// any case, unescaped), else "".
func (t token) keyword() string {
	if t.kind != tWord || t.escaped || len(t.text) > 3 {
		return ""
	}
	switch strings.ToLower(t.text) {
	case "and":
		return "and"
	case "or":
		return "or"
	case "not":
		return "not"
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isSpecial reports the characters that end an unquoted value.
func isSpecial(c byte) bool {
	switch c {
	case '(', ')', ':', '<', '>', '"', '{', '}':
		return true
	}
	return isSpace(c)
}

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		start := i
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		space := i > start
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i, end: i, spaceBefore: space})
			return toks, nil
		}
		t := token{pos: i, spaceBefore: space}
		switch c := src[i]; c {
		case '(':
			t.kind, i = tLParen, i+1
		case ')':
			t.kind, i = tRParen, i+1
		case '{':
			t.kind, i = tLBrace, i+1
		case '}':
			t.kind, i = tRBrace, i+1
		case ':':
			t.kind, i = tColon, i+1
		case '<', '>':
			t.kind, i = tRange, i+1
			if i < len(src) && src[i] == '=' {
				i++
			}
			t.text = src[t.pos:i]
		case '"':
			text, next, err := lexQuoted(src, i)
			if err != nil {
				return nil, err
			}
			t.kind, t.text, i = tQuoted, text, next
		default:
			next, err := lexWord(src, i, &t)
			if err != nil {
				return nil, err
			}
			i = next
		}
		t.end = i
		toks = append(toks, t)
	}
}

// lexQuoted reads a quoted value starting at the opening quote. Quoted
// values are literal: '*' is not a wildcard. \" \\ \t \r \n and \uXXXX are
// escapes; any other backslash stands for itself.
func lexQuoted(src string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(src):
			switch n := src[i+1]; n {
			case '"', '\\':
				b.WriteByte(n)
				i += 2
				continue
			case 't':
				b.WriteByte('\t')
				i += 2
				continue
			case 'r':
				b.WriteByte('\r')
				i += 2
				continue
			case 'n':
				b.WriteByte('\n')
				i += 2
				continue
			case 'u':
				if r, ok := hex4(src, i+2); ok {
					b.WriteRune(r)
					i += 6
					continue
				}
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, syntaxErr(src, start, "unterminated quoted value: missing closing '\"'")
}

func hex4(src string, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	n, err := strconv.ParseUint(src[i:i+4], 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// lexWord reads an unquoted value. '*' is a wildcard; a backslash escapes
// one of \():<>"*{} or a space, or spells \t \r \n \uXXXX, or makes a
// keyword (\and \or) literal.
func lexWord(src string, start int, t *token) (int, error) {
	var text, pat strings.Builder
	i := start
	for i < len(src) && !isSpecial(src[i]) {
		c := src[i]
		switch c {
		case '*':
			t.wild = true
			pat.WriteByte('*')
			i++
		case '\\':
			t.escaped = true
			if i+1 >= len(src) {
				return 0, syntaxErr(src, i, "a backslash at the end of the query escapes nothing")
			}
			n := src[i+1]
			var lit string
			width := 2
			switch {
			case strings.IndexByte(`\():<>"*{} `, n) >= 0:
				lit = string(n)
			case n == 't':
				lit = "\t"
			case n == 'r':
				lit = "\r"
			case n == 'n':
				// As in Kibana's and detection-rules' grammars the
				// whitespace escape wins, so "\not" is a newline and
				// "ot"; quote a value that is the word not.
				lit = "\n"
			case n == 'u':
				r, ok := hex4(src, i+2)
				if !ok {
					return 0, syntaxErr(src, i, `invalid escape: \u needs four hex digits`)
				}
				lit, width = string(r), 6
			case hasFoldPrefix(src[i+1:], "and"):
				lit, width = src[i+1:i+4], 4
			case hasFoldPrefix(src[i+1:], "or"):
				lit, width = src[i+1:i+3], 3
			default:
				r, _ := utf8.DecodeRuneInString(src[i+1:])
				return 0, syntaxErr(src, i, `invalid escape \%c in an unquoted value (escapable: \ ( ) : < > " * { } space t r n u and or)`, r)
			}
			text.WriteString(lit)
			if lit == "*" || lit == `\` {
				pat.WriteByte('\\')
			}
			pat.WriteString(lit)
			i += width
		default:
			text.WriteByte(c)
			pat.WriteByte(c)
			i++
		}
	}
	t.kind = tWord
	t.text = text.String()
	t.glob = pat.String()
	return i, nil
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
