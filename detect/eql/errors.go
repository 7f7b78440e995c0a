package eql

import "fmt"

// SyntaxError is a query that is not valid EQL. Line and Col are 1-based
// and point at the offending token.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// UnsupportedError is valid EQL that uses a feature this engine does not
// implement. Feature names it ("sample", "pipe | unique", ...).
type UnsupportedError struct {
	Feature   string
	Line, Col int
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("line %d, column %d: unsupported EQL feature: %s", e.Line, e.Col, e.Feature)
}

// pos is a 1-based position in the query source.
type pos struct{ line, col int }

func syntaxErr(p pos, format string, args ...any) *SyntaxError {
	return &SyntaxError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(p pos, feature string) *UnsupportedError {
	return &UnsupportedError{Feature: feature, Line: p.line, Col: p.col}
}
