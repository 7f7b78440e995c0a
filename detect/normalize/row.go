package normalize

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
// slot, the others as name and value pairs in the order they came. Its
// strings are the caller's; a Fields kept by a Row must not change while
// the row is in use.
type Fields struct {
	vals  [numCols]string
	has   uint64
	extra []string // name, value, name, value, ...
}

// Reset empties f, keeping its storage.
func (f *Fields) Reset() {
	*f = Fields{extra: f.extra[:0]}
}

// Set sets a column. A name set twice keeps the last value, as a JSON
// object decoded into a map does.
func (f *Fields) Set(name, value string) {
	if c := ColOf(name); c != ColNone {
		f.SetCol(c, value)
		return
	}
	for i := 0; i < len(f.extra); i += 2 {
		if f.extra[i] == name {
			f.extra[i+1] = value
			return
		}
	}
	f.extra = append(f.extra, name, value)
}

// SetCol sets a column that has a slot.
func (f *Fields) SetCol(c Col, value string) {
	f.vals[c] = value
	f.has |= 1 << c
}

// Get returns a column's value, "" when absent.
func (f *Fields) Get(c Col) string { return f.vals[c] }

// Has reports whether a column with a slot is present.
func (f *Fields) Has(c Col) bool { return f.has&(1<<c) != 0 }

// Len is the number of columns.
func (f *Fields) Len() int {
	n := len(f.extra) / 2
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
			fn(colNames[c], f.vals[c])
		}
	}
	for i := 0; i < len(f.extra); i += 2 {
		fn(f.extra[i], f.extra[i+1])
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
		return r.Fields.vals[c]
	}
	return r.Cols[colNames[c]]
}

// Lookup returns a column of the row and whether it is present.
func (r *Row) Lookup(c Col) (string, bool) {
	if r.Fields != nil {
		return r.Fields.vals[c], r.Fields.Has(c)
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
