// Package tomllimit bounds how deeply a TOML document nests before it is
// handed to a TOML parser.
//
// The TOML parser in use (github.com/BurntSushi/toml) spends time and memory
// quadratic in nesting: 16 KB of nested inline tables costs it 700 MB, and
// long dotted keys or table headers cost the same way. Real rule and
// settings files nest a handful of levels. Check scans the text once, in
// linear time and constant memory, and refuses a document whose nesting
// exceeds a bound, naming the line.
package tomllimit

import (
	"fmt"
)

// MaxDepth is the default bound: twice what Elastic's rule files use (5, in
// [[rule.threat.technique.subtechnique]]; the settings file uses 3), low
// enough that parsing cost stays near linear in the file size.
const MaxDepth = 10

// DepthError says where a document nests too deeply.
type DepthError struct {
	Line  int
	Depth int
	Max   int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("line %d: nesting deeper than %d levels (inline tables, arrays and dotted key parts count)", e.Line, e.Max)
}

// Check returns a *DepthError when data nests more than maxDepth levels.
// Nesting counts open inline tables and arrays (including the brackets of
// [table] and [[array]] headers) plus the parts of the dotted key being
// read. It over-counts rather than under-counts (a dot in a float counts),
// and ignores brackets and dots inside strings and comments. Check does not
// validate TOML; unbalanced brackets are left to the parser.
func Check(data []byte, maxDepth int) error {
	// carried[i] is the dotted key parts in front of the i-th open bracket:
	// a = {b.c = {d.e = 1}} nests a, b, c, d, e.
	var carried []int
	// pending is the dotted parts of the key whose value is being read.
	depth, dots, pending, line := 0, 0, 0, 1
	check := func() error {
		if n := depth + sum(carried) + pending + dots; n > maxDepth {
			return &DepthError{Line: line, Depth: n, Max: maxDepth}
		}
		return nil
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch c {
		case '\n':
			line++
			dots, pending = 0, 0
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			var n int
			i, n = skipString(data, i)
			line += n
		case '{', '[':
			depth++
			carried = append(carried, pending+dots)
			dots, pending = 0, 0
			if err := check(); err != nil {
				return err
			}
		case '}', ']':
			if depth > 0 {
				depth--
				carried = carried[:len(carried)-1]
			}
			dots, pending = 0, 0
		case '=':
			pending, dots = dots, 0
		case ',':
			dots, pending = 0, 0
		case '.':
			dots++
			if err := check(); err != nil {
				return err
			}
		}
	}
	return nil
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

// skipString skips the string starting at data[i] (basic or literal,
// single- or multi-line) and returns the index of its last byte and the
// newlines inside it. An unterminated string runs to the end.
func skipString(data []byte, i int) (end, newlines int) {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 3
	} else {
		i++
	}
	for ; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\\' && q == '"':
			if i+1 < len(data) && data[i+1] == '\n' {
				newlines++
			}
			i++
		case c == '\n':
			newlines++
			if !multi {
				return i - 1, newlines - 1 // the newline ends the (bad) string; count it in the caller
			}
		case c == q && !multi:
			return i, newlines
		case c == q && multi && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			// Up to two more quotes may belong to the content ("""a"""").
			i += 2
			for i+1 < len(data) && data[i+1] == q {
				i++
			}
			return i, newlines
		}
	}
	return len(data) - 1, newlines
}
