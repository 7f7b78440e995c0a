package kql

import (
	"fmt"
	"unicode/utf8"
)

// SyntaxError is a malformed query. Line and Col are 1-based; Col counts
// characters (not bytes) from the start of the line.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// UnsupportedError is a well-formed query that uses a KQL feature this
// engine does not run, such as a nested field query or a free-text term.
// Such a query is refused rather than run with the part ignored.
type UnsupportedError struct {
	Feature   string
	Line, Col int
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s is not supported", e.Line, e.Col, e.Feature)
}

// position converts a byte offset of src into a 1-based line and column.
func position(src string, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCountInString(src[lineStart:off]) + 1
}

func syntaxErr(src string, off int, format string, args ...any) *SyntaxError {
	line, col := position(src, off)
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(src string, off int, format string, args ...any) *UnsupportedError {
	line, col := position(src, off)
	return &UnsupportedError{Feature: fmt.Sprintf(format, args...), Line: line, Col: col}
}
