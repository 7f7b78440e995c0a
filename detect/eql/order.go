package eql

import (
	"sort"
	"strings"
)

// Operands of an `and` are evaluated most selective first. Every predicate
// is pure and total (no side effects, no errors), so the order never changes
// a result, only how soon a non-matching event is turned away. Rules put
// their broad clauses first (host.os.type == "linux" and event.type ==
// "start" ...), which nearly every exec event passes; the clause that
// decides is usually a test on the process name or path further on.

// selectivity ranks an operand: lower runs earlier.
const (
	rankSpecific = iota // a positive test on a process, network or user field
	rankNegated         // an exclusion: true for most events
	rankBroad           // only event metadata and host type: true for most events
)

// broadField reports whether a field describes the kind of event or host
// rather than the process: tests on it pass for most events of a stream.
func broadField(name string) bool {
	return strings.HasPrefix(name, "event.") || strings.HasPrefix(name, "host.os.") ||
		strings.HasPrefix(name, "data_stream.") || name == "host.id" || name == "agent.type"
}

func rank(e expr) int {
	if n, ok := e.(*notExpr); ok {
		if allFields(n.x, broadField) {
			return rankBroad
		}
		return rankNegated
	}
	if in, ok := e.(*inExpr); ok && in.neg {
		return rankNegated
	}
	if c, ok := e.(*cmpExpr); ok && c.op == "!=" {
		return rankNegated
	}
	if allFields(e, broadField) {
		return rankBroad
	}
	return rankSpecific
}

// allFields reports whether e references at least one field and every
// field it references satisfies pred.
func allFields(e expr, pred func(string) bool) bool {
	seen, all := false, true
	var walk func(expr)
	walk = func(x expr) {
		switch x := x.(type) {
		case *fieldExpr:
			seen = true
			all = all && pred(x.name)
		case *andExpr:
			walk(x.l)
			walk(x.r)
		case *orExpr:
			walk(x.l)
			walk(x.r)
		case *notExpr:
			walk(x.x)
		case *cmpExpr:
			walk(x.l)
			walk(x.r)
		case *arithExpr:
			walk(x.l)
			walk(x.r)
		case *negExpr:
			walk(x.x)
		case *inExpr:
			walk(x.x)
			for _, y := range x.list {
				walk(y)
			}
		case *matchExpr:
			walk(x.x)
		case *callExpr:
			for _, y := range x.args {
				walk(y)
			}
		}
	}
	walk(e)
	return seen && all
}

// orderBySelectivity sorts the operands of a conjunction, keeping the
// written order among operands of the same rank.
func orderBySelectivity(operands []expr) {
	sort.SliceStable(operands, func(i, j int) bool { return rank(operands[i]) < rank(operands[j]) })
}
