package normalize

import (
	"errors"
	"strconv"
)

// RowError says why one osquery row could not become an event. It names the
// table, the column (or "table", "host") at fault and the reason.
type RowError struct {
	Table  string
	Field  string
	Reason string
	// Value is the offending value, shortened, when there is one.
	Value string
}

// Error renders the rejection as one sentence.
func (e *RowError) Error() string {
	table := e.Table
	if table == "" {
		table = "unnamed table"
	}
	s := table + " row rejected: " + e.Field
	if e.Value != "" {
		s += " " + strconv.Quote(e.Value)
	}
	return s + " " + e.Reason
}

// ErrStateOnly is returned by Normalize for rows that update the process
// cache but describe no event (rows of the processes table). It is not a
// rejection and is not counted as one.
var ErrStateOnly = errors.New("row updates the process cache and yields no event")

// The reasons a row is rejected. They are fixed phrases so that rejection
// counts stay bounded.
const (
	reasonMissing       = "is missing"
	reasonNotNumber     = "is not a number"
	reasonTable         = "is not a table the normalizer maps"
	reasonSyscall       = "is not a process syscall the normalizer maps"
	reasonKill          = "is a kill syscall, which is not mapped: osquery's kill rows do not name the target process"
	reasonAction        = "is not a socket action the normalizer maps"
	reasonExecNoPath    = "is missing, and an exec row needs the executable's path"
	reasonNegative      = "is negative"
	reasonHostMissing   = "is missing: every row needs the host it came from"
	reasonPidOutOfRange = "is out of range"
)

// maxValueInError bounds how much of a bad value an error repeats.
const maxValueInError = 64

func rowErr(table, field, reason, value string) *RowError {
	if len(value) > maxValueInError {
		value = value[:maxValueInError] + "..."
	}
	return &RowError{Table: table, Field: field, Reason: reason, Value: value}
}
