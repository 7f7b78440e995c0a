package eql

import (
	"errors"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	tests := []struct {
		query       string
		unsupported string // feature, for UnsupportedError
		line, col   int
		msg         string // substring of the message
	}{
		{query: `process where process.name == 'bash'`, line: 1, col: 31, msg: "single-quoted"},
		{query: "process where\n  process.name = \"a\"", line: 2, col: 16, msg: "use '=='"},
		{query: `process where process.name == ?"a"`, line: 1, col: 31, msg: "Endgame"},
		{query: `process where process.name == "a`, line: 1, col: 31, msg: "unterminated string"},
		{query: `process where process.name == "a\qb"`, line: 1, col: 33, msg: "invalid escape"},
		{query: `process where process.name == "\u{zz}"`, line: 1, col: 32, msg: "unicode escape"},
		{query: `process where process.name ==`, line: 1, col: 30, msg: "expected a field, value or function"},
		{query: `process process.name == "a"`, line: 1, col: 9, msg: "expected 'where'"},
		{query: `where x == 1`, line: 1, col: 1, msg: "event category"},
		{query: ``, line: 1, col: 1, msg: "empty query"},
		{query: `process where (a == 1`, line: 1, col: 22, msg: "expected ')'"},
		{query: `process where a == 1 b`, line: 1, col: 22, msg: "unexpected 'b'"},
		{query: `process where a : x`, line: 1, col: 19, msg: "string constant"},
		{query: `process where a like 1`, line: 1, col: 22, msg: "string constant"},
		{query: `process where a regex "a("`, line: 1, col: 23, msg: "bad regular expression"},
		// An unbalanced ")" would close the anchoring group: rejected, as
		// Lucene rejects it.
		{query: `process where a regex "a)|(b"`, line: 1, col: 23, msg: "bad regular expression"},
		{query: `process where 1`, line: 1, col: 15, msg: "condition is needed"},
		{query: `process where a /* x`, line: 1, col: 17, msg: "unterminated /* comment"},
		{query: `process where cidrmatch(a, "300.0.0.0/8")`, line: 1, col: 28, msg: "bad CIDR"},
		{query: `process where cidrmatch(a, b)`, line: 1, col: 28, msg: "constant CIDR"},
		{query: `process where startsWith(a)`, line: 1, col: 15, msg: "takes 2 arguments"},
		{query: `process where length~(a) > 1`, line: 1, col: 15, msg: "no case-insensitive form"},
		{query: `process where a.b~ == 1`, line: 1, col: 15, msg: "'~'"},
		{query: "sequence with maxspan=5 [a where true] [b where true]", line: 1, col: 25, msg: "time unit"},
		{query: "sequence with maxspan=5y [a where true] [b where true]", line: 1, col: 24, msg: "unknown time unit"},
		{query: "sequence with maxspan=1s by host.id [a where true] [b where true]", line: 1, col: 26, msg: "before 'with"},
		{query: "sequence by host.id [a where true] by x [b where true]", line: 1, col: 42, msg: "inconsistent number of join keys"},
		{query: "sequence [a where true] with runs=0", line: 1, col: 35, msg: "runs must be"},
		{query: "sequence [a where true] with runs=101", line: 1, col: 35, msg: "runs must be"},
		{query: "sequence by", line: 1, col: 12, msg: "join key"},
		{query: "sequence", line: 1, col: 9, msg: "sequence step"},
		{query: "process where true | head 0", line: 1, col: 27, msg: "positive integer"},
		{query: "process where true | head", line: 1, col: 26, msg: "positive integer"},
		{query: "process where process.name == \"a\" and\n\n   process.pid >", line: 3, col: 17, msg: "expected"},
		{query: "process where a == é", line: 1, col: 20, msg: "unexpected character"},
		// Valid EQL this engine does not run.
		{query: "sample by host.id [a where true] [b where true]", unsupported: featureSample, line: 1, col: 1},
		{query: "sequence with maxspan=1s [a where true] ![b where true]", unsupported: featureMissingEvents, line: 1, col: 41},
		{query: "process where true | unique process.name", unsupported: "pipe | unique", line: 1, col: 20},
		{query: "process where wildcard(a, \"b\")", unsupported: "function wildcard()", line: 1, col: 15},
		{query: "join [a where true] [b where true]", unsupported: "join (Endgame EQL)", line: 1, col: 1},
		{query: "process where process.args[0] == \"a\"", unsupported: "array index field[N]", line: 1, col: 27},
		{query: "process where descendant of [process where true]", unsupported: "event relationships (descendant/child/event of, Endgame EQL)", line: 1, col: 15},
		{query: `sequence by "x" [a where true] [b where true]`, msg: "a join key needs a field", line: 1, col: 13},
	}
	for _, tt := range tests {
		_, err := Compile(tt.query, Options{})
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", tt.query)
			continue
		}
		var se *SyntaxError
		var ue *UnsupportedError
		switch {
		case tt.unsupported != "":
			if !errors.As(err, &ue) {
				t.Errorf("Compile(%q) = %v (%T), want UnsupportedError", tt.query, err, err)
				continue
			}
			if ue.Feature != tt.unsupported || ue.Line != tt.line || ue.Col != tt.col {
				t.Errorf("Compile(%q) = %+v, want feature %q at %d:%d", tt.query, ue, tt.unsupported, tt.line, tt.col)
			}
		default:
			if !errors.As(err, &se) {
				t.Errorf("Compile(%q) = %v (%T), want SyntaxError", tt.query, err, err)
				continue
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Compile(%q) = %q, want line %d, column %d, message containing %q", tt.query, err, tt.line, tt.col, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error text %q does not start with its position", err)
			}
		}
	}
}
