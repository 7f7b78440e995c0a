package normalize

import "unsafe"

// Col names a column the normalizer, the ordering or table inference
// reads. Rows decoded from logs keep these in fixed slots (Fields), so
// reading one is an array index instead of a map lookup.
type Col uint8

// The columns with slots. ColNone is no column.
const (
	ColNone Col = iota
	ColAction
	ColAuid
	ColCmdline
	ColCwd
	ColEgid
	ColEID
	ColEuid
	ColExitCode
	ColFamily
	ColGid
	ColLocalAddress
	ColLocalPort
	ColName
	ColNtime
	ColParent
	ColPath
	ColPid
	ColProtocol
	ColRemoteAddress
	ColRemotePort
	ColSgid
	ColSocket
	ColStartTime
	ColStatus
	ColSuccess
	ColSuid
	ColSyscall
	ColTid
	ColTime
	ColUID
	numCols
)

var colNames = [numCols]string{
	ColAction: "action", ColAuid: "auid", ColCmdline: "cmdline", ColCwd: "cwd", ColEgid: "egid",
	ColEID: "eid", ColEuid: "euid", ColExitCode: "exit_code", ColFamily: "family", ColGid: "gid",
	ColLocalAddress: "local_address", ColLocalPort: "local_port", ColName: "name", ColNtime: "ntime",
	ColParent: "parent", ColPath: "path", ColPid: "pid", ColProtocol: "protocol",
	ColRemoteAddress: "remote_address", ColRemotePort: "remote_port", ColSgid: "sgid",
	ColSocket: "socket", ColStartTime: "start_time", ColStatus: "status", ColSuccess: "success",
	ColSuid: "suid", ColSyscall: "syscall", ColTid: "tid", ColTime: "time", ColUID: "uid",
}

// Name returns the column's name ("" for ColNone).
func (c Col) Name() string { return colNames[c] }

// ColOf returns the slot of a column name, or ColNone.
func ColOf(name string) Col {
	switch name {
	case "action":
		return ColAction
	case "auid":
		return ColAuid
	case "cmdline":
		return ColCmdline
	case "cwd":
		return ColCwd
	case "egid":
		return ColEgid
	case "eid":
		return ColEID
	case "euid":
		return ColEuid
	case "exit_code":
		return ColExitCode
	case "family":
		return ColFamily
	case "gid":
		return ColGid
	case "local_address":
		return ColLocalAddress
	case "local_port":
		return ColLocalPort
	case "name":
		return ColName
	case "ntime":
		return ColNtime
	case "parent":
		return ColParent
	case "path":
		return ColPath
	case "pid":
		return ColPid
	case "protocol":
		return ColProtocol
	case "remote_address":
		return ColRemoteAddress
	case "remote_port":
		return ColRemotePort
	case "sgid":
		return ColSgid
	case "socket":
		return ColSocket
	case "start_time":
		return ColStartTime
	case "status":
		return ColStatus
	case "success":
		return ColSuccess
	case "suid":
		return ColSuid
	case "syscall":
		return ColSyscall
	case "tid":
		return ColTid
	case "time":
		return ColTime
	case "uid":
		return ColUID
	}
	return ColNone
}

// Fields holds a row's columns without a map: the columns with a slot by
// slot, the others as name and value pairs in the order they came. Values
// live in one byte buffer and slots hold their offsets, so a Fields holds
// no pointers but the buffer's (cheap to allocate and to collect). Strings
// Get returns are views of that buffer: a Fields kept by a Row must not
// change while the row is in use.
type Fields struct {
	b    []byte
	span [numCols]span
	has  uint64
	xs   []span // names and values of the other columns, in pairs
	// xenc, when not 0, is where in b the other columns begin, still
	// encoded as encodeRow writes them (rows a Reorderer decoded).
	xenc int32
}

type span struct{ off, n uint32 }

func (f *Fields) str(s span) string {
	if s.n == 0 {
		return ""
	}
	return unsafe.String(&f.b[s.off], int(s.n))
}

// Reset empties f, keeping its storage.
func (f *Fields) Reset() {
	f.b = f.b[:0]
	f.span = [numCols]span{}
	f.has = 0
	f.xs = f.xs[:0]
	f.xenc = 0
}

// add appends a value to the buffer and returns its span.
func (f *Fields) add(v string) span {
	s := span{uint32(len(f.b)), uint32(len(v))}
	f.b = append(f.b, v...)
	return s
}

// Set sets a column, copying the value into the buffer. A name set twice
// keeps the last value, as a JSON object decoded into a map does.
func (f *Fields) Set(name, value string) {
	if c := ColOf(name); c != ColNone {
		f.SetCol(c, value)
		return
	}
	f.SetOther(name, value)
}

// SetOther sets a column that has no slot (name is not checked).
func (f *Fields) SetOther(name, value string) {
	for i := 0; i < len(f.xs); i += 2 {
		if f.str(f.xs[i]) == name {
			f.xs[i+1] = f.add(value)
			return
		}
	}
	f.xs = append(f.xs, f.add(name), f.add(value))
}

// SetCol sets a column that has a slot.
func (f *Fields) SetCol(c Col, value string) {
	f.span[c] = f.add(value)
	f.has |= 1 << c
}

// Get returns a column's value, "" when absent.
func (f *Fields) Get(c Col) string { return f.str(f.span[c]) }

// Has reports whether a column with a slot is present.
func (f *Fields) Has(c Col) bool { return f.has&(1<<c) != 0 }

// Len is the number of columns.
func (f *Fields) Len() int {
	n := 0
	f.rangeOthers(func(string, string) { n++ })
	for h := f.has; h != 0; h &= h - 1 {
		n++
	}
	return n
}

// Range calls fn for every column: those with a slot in slot order, then
// the others in the order they were set.
func (f *Fields) Range(fn func(name, value string)) {
	for c := Col(1); c < numCols; c++ {
		if f.has&(1<<c) != 0 {
			fn(colNames[c], f.str(f.span[c]))
		}
	}
	f.rangeOthers(fn)
}

func (f *Fields) rangeOthers(fn func(name, value string)) {
	if f.xenc > 0 && len(f.xs) == 0 {
		rest := unsafe.String(unsafe.SliceData(f.b[f.xenc:]), len(f.b)-int(f.xenc))
		for len(rest) > 0 {
			var name, value string
			name, rest = nextStr(rest[1:]) // the tag is 0
			value, rest = nextStr(rest)
			fn(name, value)
		}
		return
	}
	for i := 0; i < len(f.xs); i += 2 {
		fn(f.str(f.xs[i]), f.str(f.xs[i+1]))
	}
}

// Map returns the columns as a new map.
func (f *Fields) Map() map[string]string {
	m := make(map[string]string, f.Len())
	f.Range(func(k, v string) { m[k] = v })
	return m
}

// Get returns a column of the row, from Fields when the row has them, else
// from Cols; "" when absent.
func (r *Row) Get(c Col) string {
	if r.Fields != nil {
		return r.Fields.Get(c)
	}
	return r.Cols[colNames[c]]
}

// Lookup returns a column of the row and whether it is present.
func (r *Row) Lookup(c Col) (string, bool) {
	if r.Fields != nil {
		return r.Fields.Get(c), r.Fields.Has(c)
	}
	v, ok := r.Cols[colNames[c]]
	return v, ok
}

// Range calls fn for every column of the row.
func (r *Row) Range(fn func(name, value string)) {
	if r.Fields != nil {
		r.Fields.Range(fn)
		return
	}
	for k, v := range r.Cols {
		fn(k, v)
	}
}

// ColMap returns the row's columns as a map: Cols itself, or a new map
// built from Fields.
func (r *Row) ColMap() map[string]string {
	if r.Fields != nil {
		return r.Fields.Map()
	}
	return r.Cols
}
