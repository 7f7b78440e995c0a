package normalize

import "unsafe"

// ViewFields returns n Fields that view one shared buffer, for rows decoded
// together (the extension decodes each osquery answer into one buffer):
// one allocation for every row's Fields, none per value. buf must not
// change while any of them is in use. Set their columns with SetView and
// SetOtherViews.
func ViewFields(buf []byte, n int) []Fields {
	fs := make([]Fields, n)
	for i := range fs {
		fs[i].b = buf
		fs[i].view = true
	}
	return fs
}

// ViewFieldsInto is ViewFields reusing the storage of fs (Fields of an
// earlier answer no longer in use) when it holds n.
func ViewFieldsInto(fs []Fields, buf []byte, n int) []Fields {
	if cap(fs) < n {
		return ViewFields(buf, n)
	}
	fs = fs[:n]
	for i := range fs {
		fs[i] = Fields{b: buf, view: true}
	}
	return fs
}

// SetView sets column c to the n bytes at off in the buffer the Fields
// view (ViewFields); an out-of-range view is ignored. A view of 0 bytes is
// a column that is present and empty.
func (f *Fields) SetView(c Col, off, n uint32) {
	if c == ColNone || c >= numCols || uint64(off)+uint64(n) > uint64(len(f.b)) {
		return
	}
	f.span[c] = span{off, n}
	f.has |= 1 << c
}

// View is a name or value of a column without a slot: n bytes at off in
// the buffer the Fields view.
type View struct{ Off, N uint32 }

// SetOtherViews sets the columns without a slot from views, a name and a
// value for each, in pairs, into store (whose capacity must hold them:
// callers give each row its own part of one shared array, so that no row
// allocates); out-of-range views are dropped.
func (f *Fields) SetOtherViews(views []View, store []View) {
	xs := spansOf(store[:0:len(views)])
	for i := 0; i+1 < len(views); i += 2 {
		k, v := views[i], views[i+1]
		if uint64(k.Off)+uint64(k.N) > uint64(len(f.b)) || uint64(v.Off)+uint64(v.N) > uint64(len(f.b)) {
			continue
		}
		xs = append(xs, span{k.Off, k.N}, span{v.Off, v.N})
	}
	f.xs = xs
}

// View and span are laid out alike (spansOf relies on it).
var _ = [1]struct{}{}[unsafe.Sizeof(View{})-unsafe.Sizeof(span{})]

// spansOf views a []View as the []span it is laid out as.
func spansOf(v []View) []span {
	if cap(v) == 0 {
		return nil
	}
	return unsafe.Slice((*span)(unsafe.Pointer(unsafe.SliceData(v))), cap(v))[:len(v)]
}
