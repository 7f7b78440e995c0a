package normalize

// ViewFields returns n Fields that view one shared buffer, for rows decoded
// together (the extension decodes each osquery answer into one buffer):
// one allocation for every row's Fields, none per value. buf must not
// change while any of them is in use. Set their columns with SetView.
func ViewFields(buf []byte, n int) []Fields {
	fs := make([]Fields, n)
	for i := range fs {
		fs[i].b = buf
	}
	return fs
}

// SetView sets column c to the n bytes at off in the buffer the Fields
// view (ViewFields); an out-of-range view is ignored.
func (f *Fields) SetView(c Col, off, n uint32) {
	if c == ColNone || c >= numCols || uint64(off)+uint64(n) > uint64(len(f.b)) {
		return
	}
	f.span[c] = span{off, n}
	f.has |= 1 << c
}
