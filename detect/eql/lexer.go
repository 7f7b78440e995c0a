package eql

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkIdent
	tkQuotedIdent // `back quoted`: a field name, never a keyword
	tkString
	tkNumber
	tkPunct
)

type token struct {
	kind tokKind
	text string // identifier, unescaped string, number text or punctuation
	pos  pos
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

func (t token) describe() string {
	switch t.kind {
	case tkEOF:
		return "end of query"
	case tkString:
		return strconv.Quote(t.text)
	}
	return "'" + t.text + "'"
}

// lex splits src into tokens. Comments (// and /* */) are dropped.
func lex(src string) ([]token, error) {
	l := lexer{src: src, line: 1, col: 1}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tkEOF {
			return toks, nil
		}
	}
}

type lexer struct {
	src       string
	off       int
	line, col int
}

func (l *lexer) pos() pos { return pos{l.line, l.col} }

func (l *lexer) peekByte(n int) byte {
	if l.off+n < len(l.src) {
		return l.src[l.off+n]
	}
	return 0
}

// advance moves over n bytes, keeping line and column current.
func (l *lexer) advance(n int) {
	end := l.off + n
	for l.off < end {
		r, w := utf8.DecodeRuneInString(l.src[l.off:])
		l.off += w
		if r == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (l *lexer) skipSpaceAndComments() error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.advance(1)
		case c == '/' && l.peekByte(1) == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.peekByte(1) == '*':
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return syntaxErr(start, "unterminated /* comment")
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tkEOF, pos: p}, nil
	}
	c := l.src[l.off]
	switch {
	case isIdentStart(c):
		start := l.off
		n := 0
		for {
			for l.off+n < len(l.src) && isIdentPart(l.src[l.off+n]) {
				n++
			}
			if l.peekByte(n) == '.' && isIdentPart(l.peekByte(n+1)) {
				n++
				continue
			}
			break
		}
		if l.peekByte(n) == '~' {
			n++ // like~, regex~, in~, startsWith~(...)
		}
		l.advance(n)
		return token{kind: tkIdent, text: l.src[start : start+n], pos: p}, nil
	case isDigit(c):
		n := 0
		for isDigit(l.peekByte(n)) {
			n++
		}
		if l.peekByte(n) == '.' && isDigit(l.peekByte(n+1)) {
			n++
			for isDigit(l.peekByte(n)) {
				n++
			}
		}
		if e := l.peekByte(n); e == 'e' || e == 'E' {
			m := n + 1
			if s := l.peekByte(m); s == '+' || s == '-' {
				m++
			}
			if isDigit(l.peekByte(m)) {
				for isDigit(l.peekByte(m)) {
					m++
				}
				n = m
			}
		}
		text := l.src[l.off : l.off+n]
		l.advance(n)
		return token{kind: tkNumber, text: text, pos: p}, nil
	case c == '"':
		return l.lexString(p)
	case c == '\'':
		return token{}, syntaxErr(p, "single-quoted strings are Endgame EQL syntax, not Elasticsearch EQL: use double quotes (\"...\") or \"\"\"...\"\"\"")
	case c == '`':
		end := strings.IndexByte(l.src[l.off+1:], '`')
		if end < 0 {
			return token{}, syntaxErr(p, "unterminated back-quoted field name")
		}
		name := l.src[l.off+1 : l.off+1+end]
		l.advance(end + 2)
		if name == "" {
			return token{}, syntaxErr(p, "empty back-quoted field name")
		}
		return token{kind: tkQuotedIdent, text: name, pos: p}, nil
	case c == '?' && l.peekByte(1) == '"':
		return token{}, syntaxErr(p, "?\"...\" raw strings are Endgame EQL syntax: use \"\"\"...\"\"\"")
	}
	for _, op := range []string{"==", "!=", "<=", ">="} {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.advance(2)
			return token{kind: tkPunct, text: op, pos: p}, nil
		}
	}
	if strings.IndexByte("<>:+-*/%()[],|!=~?", c) >= 0 {
		l.advance(1)
		return token{kind: tkPunct, text: string(c), pos: p}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return token{}, syntaxErr(p, "unexpected character %q", r)
}

func (l *lexer) lexString(p pos) (token, error) {
	if strings.HasPrefix(l.src[l.off:], `"""`) {
		end := strings.Index(l.src[l.off+3:], `"""`)
		if end < 0 {
			return token{}, syntaxErr(p, `unterminated """ string`)
		}
		// A raw string may end in more quotes than three: they belong to it.
		for l.off+3+end+3 < len(l.src) && l.src[l.off+3+end+3] == '"' {
			end++
		}
		text := l.src[l.off+3 : l.off+3+end]
		l.advance(end + 6)
		return token{kind: tkString, text: text, pos: p}, nil
	}
	var b strings.Builder
	i := l.off + 1
	for {
		if i >= len(l.src) || l.src[i] == '\n' || l.src[i] == '\r' {
			return token{}, syntaxErr(p, "unterminated string")
		}
		c := l.src[i]
		if c == '"' {
			i++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(l.src) {
			return token{}, syntaxErr(p, "unterminated string")
		}
		switch e := l.src[i+1]; e {
		case '\\', '"', '\'':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			rest := l.src[i+2:]
			close := strings.IndexByte(rest, '}')
			if !strings.HasPrefix(rest, "{") || close < 2 || close > 9 {
				return token{}, l.escapeErr(i, `bad unicode escape: want \u{XXXX} with 1 to 8 hex digits`)
			}
			v, err := strconv.ParseUint(rest[1:close], 16, 32)
			if err != nil || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
				return token{}, l.escapeErr(i, "bad unicode escape \\u"+rest[:close+1])
			}
			b.WriteRune(rune(v))
			i += close + 1
		default:
			return token{}, l.escapeErr(i, "invalid escape sequence \\"+string(e)+`: strings allow \\ \" \n \r \t \u{XXXX}`)
		}
		i += 2
	}
	l.advance(i - l.off)
	return token{kind: tkString, text: b.String(), pos: p}, nil
}

// escapeErr reports an error at the backslash at byte offset at.
func (l *lexer) escapeErr(at int, msg string) error {
	line, col := l.line, l.col
	for _, r := range l.src[l.off:at] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return syntaxErr(pos{line, col}, "%s", msg)
}
