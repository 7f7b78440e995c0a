package normalize

import (
	"encoding/binary"
	"unsafe"
)

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
	// Columns no one reads by slot, given one so that a row of osquery's
	// event tables stores every column as a one-byte tag and its value:
	// smaller in the reorder window, and no name to hash or copy.
	ColAtime
	ColBtime
	ColCmdlineSize
	ColCtime
	ColEnv
	ColEnvCount
	ColEnvSize
	ColFd
	ColFsgid
	ColFsuid
	ColMode
	ColMtime
	ColOverflows
	ColOwnerGid
	ColOwnerUID
	ColUptime
	numCols
)

// The has bitmask holds one bit per slot.
var _ = [64 - numCols]struct{}{}

var colNames = [numCols]string{
	ColAction: "action", ColAuid: "auid", ColCmdline: "cmdline", ColCwd: "cwd", ColEgid: "egid",
	ColEID: "eid", ColEuid: "euid", ColExitCode: "exit_code", ColFamily: "family", ColGid: "gid",
	ColLocalAddress: "local_address", ColLocalPort: "local_port", ColName: "name", ColNtime: "ntime",
	ColParent: "parent", ColPath: "path", ColPid: "pid", ColProtocol: "protocol",
	ColRemoteAddress: "remote_address", ColRemotePort: "remote_port", ColSgid: "sgid",
	ColSocket: "socket", ColStartTime: "start_time", ColStatus: "status", ColSuccess: "success",
	ColSuid: "suid", ColSyscall: "syscall", ColTid: "tid", ColTime: "time", ColUID: "uid",
	ColAtime: "atime", ColBtime: "btime", ColCmdlineSize: "cmdline_size", ColCtime: "ctime", ColEnv: "env", ColEnvCount: "env_count", ColEnvSize: "env_size", ColFd: "fd", ColFsgid: "fsgid", ColFsuid: "fsuid", ColMode: "mode", ColMtime: "mtime", ColOverflows: "overflows", ColOwnerGid: "owner_gid", ColOwnerUID: "owner_uid", ColUptime: "uptime",
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
	case "atime":
		return ColAtime
	case "btime":
		return ColBtime
	case "cmdline_size":
		return ColCmdlineSize
	case "ctime":
		return ColCtime
	case "env":
		return ColEnv
	case "env_count":
		return ColEnvCount
	case "env_size":
		return ColEnvSize
	case "fd":
		return ColFd
	case "fsgid":
		return ColFsgid
	case "fsuid":
		return ColFsuid
	case "mode":
		return ColMode
	case "mtime":
		return ColMtime
	case "overflows":
		return ColOverflows
	case "owner_gid":
		return ColOwnerGid
	case "owner_uid":
		return ColOwnerUID
	case "uptime":
		return ColUptime
	}
	return ColNone
}

// Fields holds a row's columns without a map. The columns are laid end
// to end in one byte buffer, in the form a Reorderer buffers rows in (a
// tag byte: the column's slot, or 0 followed by the name's length and the
// name; then the value's length and the value), and each slot keeps the
// offset of its value. A Fields holds no pointer but its buffer's (cheap
// to allocate and to collect) and is buffered by a copy. Strings Get
// returns are views of the buffer: a Fields kept by a Row must not change
// while the row is in use.
//
// Fields made by ViewFields are views instead: b is a buffer laid out by
// someone else (an osquery answer as it came off the socket), the slots'
// spans point into it and xs holds the other columns' name and value
// spans in pairs. Setting a column on a view first lays it out as its own
// (own), so the shared buffer is never written.
type Fields struct {
	b    []byte
	span [numCols]span
	has  uint64
	// others is a Bloom filter of the names without a slot (see nameBits);
	// any bit set says there are some.
	others [2]uint64
	view   bool
	xs     []span
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
	f.others = [2]uint64{}
	f.view, f.xs = false, nil
}

// own turns a view (ViewFields) into Fields laid out in a buffer of their
// own, with the same columns.
func (f *Fields) own() {
	if !f.view {
		return
	}
	old := *f
	*f = Fields{}
	old.Range(f.Set)
}

// rangeViews calls fn for each column without a slot of a view.
func (f *Fields) rangeViews(fn func(name, value string) bool) {
	for i := 0; i+1 < len(f.xs); i += 2 {
		if !fn(f.str(f.xs[i]), f.str(f.xs[i+1])) {
			return
		}
	}
}

func (f *Fields) appendValue(v string) span {
	f.b = binary.AppendUvarint(f.b, uint64(len(v)))
	s := span{uint32(len(f.b)), uint32(len(v))}
	f.b = append(f.b, v...)
	return s
}

// Set sets a column. A name set twice keeps the last value, as a JSON
// object decoded into a map does.
func (f *Fields) Set(name, value string) {
	if c := ColOf(name); c != ColNone {
		f.SetCol(c, value)
		return
	}
	f.SetOther(name, value)
}

// nameBits are a name's two bits in the Bloom filter: one in each word,
// from an FNV-1a hash of the name.
func nameBits(name string) (uint64, uint64) {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return 1 << (h & 63), 1 << ((h >> 6) & 63)
}

// SetOther sets a column that has no slot (the name is not checked).
func (f *Fields) SetOther(name, value string) {
	f.own()
	b0, b1 := nameBits(name)
	if f.others[0]&b0 != 0 && f.others[1]&b1 != 0 {
		f.dropOther(name)
	}
	f.others[0] |= b0
	f.others[1] |= b1
	f.b = append(f.b, 0)
	f.b = binary.AppendUvarint(f.b, uint64(len(name)))
	f.b = append(f.b, name...)
	f.appendValue(value)
}

// dropOther removes a column without a slot, if present (a name given
// twice: rare), by laying the buffer out again.
func (f *Fields) dropOther(name string) {
	found := false
	f.each(func(c Col, n, v string) bool {
		found = found || (c == ColNone && n == name)
		return !found
	})
	if !found {
		return
	}
	old := *f
	old.b = append([]byte(nil), f.b...)
	f.Reset()
	for c := Col(1); c < numCols; c++ {
		if old.has&(1<<c) != 0 {
			f.SetCol(c, old.Get(c))
		}
	}
	old.each(func(c Col, n, v string) bool {
		if c == ColNone && n != name {
			f.SetOther(n, v)
		}
		return true
	})
}

// SetCol sets a column that has a slot.
func (f *Fields) SetCol(c Col, value string) {
	f.own()
	if len(value) < 0x80 { // its length is one byte: most
		f.b = append(f.b, byte(c), byte(len(value)))
		f.span[c] = span{uint32(len(f.b)), uint32(len(value))}
		f.b = append(f.b, value...)
	} else {
		f.b = append(f.b, byte(c))
		f.span[c] = f.appendValue(value)
	}
	f.has |= 1 << c
}

// each walks the buffer: every column as laid out, a later value of a
// slot included; fn returns false to stop.
func (f *Fields) each(fn func(c Col, name, value string) bool) {
	b := f.b
	for i := 0; i < len(b); {
		c := Col(b[i])
		i++
		var name string
		if c == ColNone {
			n, k := binary.Uvarint(b[i:])
			i += k
			name = unsafe.String(unsafe.SliceData(b[i:]), int(n))
			i += int(n)
		}
		n, k := binary.Uvarint(b[i:])
		i += k
		value := unsafe.String(unsafe.SliceData(b[i:]), int(n))
		i += int(n)
		if !fn(c, name, value) {
			return
		}
	}
}

// Get returns a column's value, "" when absent.
func (f *Fields) Get(c Col) string { return f.str(f.span[c]) }

// Has reports whether a column with a slot is present.
func (f *Fields) Has(c Col) bool { return f.has&(1<<c) != 0 }

// Len is the number of columns.
func (f *Fields) Len() int {
	n := 0
	f.Range(func(string, string) { n++ })
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
	if f.view {
		f.rangeViews(func(name, value string) bool { fn(name, value); return true })
		return
	}
	if f.others == [2]uint64{} {
		return
	}
	f.each(func(c Col, name, value string) bool {
		if c == ColNone {
			fn(name, value)
		}
		return true
	})
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

// LookupName returns a column of the row by name and whether it is
// present, slot or not.
func (r *Row) LookupName(name string) (string, bool) {
	if r.Fields == nil {
		v, ok := r.Cols[name]
		return v, ok
	}
	if c := ColOf(name); c != ColNone {
		return r.Fields.Get(c), r.Fields.Has(c)
	}
	var v string
	found := false
	if r.Fields.view {
		r.Fields.rangeViews(func(n, value string) bool {
			if n == name {
				v, found = value, true
			}
			return !found
		})
	} else if r.Fields.others != [2]uint64{} {
		r.Fields.each(func(c Col, n, value string) bool {
			if c == ColNone && n == name {
				v, found = value, true
			}
			return !found
		})
	}
	return v, found
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
