package normalize

import (
	"container/heap"
	"sort"
	"strings"
	"time"

	"github.com/osqdetect/osqdetect/internal/slab"
)

// isSocketTable reports whether rows of the table are socket events.
func isSocketTable(t string) bool {
	return t == TableSocketEvents || t == TableBPFSocketEvents
}

// startsProcessImage reports whether a process row starts the image its
// path names: an exec, or a fork-type row (whose child runs the caller's
// image).
func startsProcessImage(r *Row) bool {
	switch r.Get(ColSyscall) {
	case "execve", "execveat", "exec", "", "fork", "vfork", "clone":
		return true
	}
	return false
}

// sortByEID orders rows by their numeric eid when they all come from one
// table and all have one (eid counters are per table), else by Seq. Ties
// and the fallback keep Seq order.
func sortByEID(rows []Row) {
	if len(rows) < 2 {
		return
	}
	if inEIDOrder(rows) {
		return
	}
	eids := make([]int64, len(rows))
	useEID := true
	for i := range rows {
		v, ok := parseInt(rows[i].Get(ColEID))
		if !ok || rows[i].Table != rows[0].Table {
			useEID = false
			break
		}
		eids[i] = v
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := &rows[idx[a]], &rows[idx[b]]
		if useEID && eids[idx[a]] != eids[idx[b]] {
			return eids[idx[a]] < eids[idx[b]]
		}
		return ra.Seq < rb.Seq
	})
	sorted := make([]Row, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
}

// inEIDOrder reports whether rows of one table are already in the order
// sortByEID gives (the usual case in a log): every eid numeric and
// ascending, Seq ascending among equal eids.
func inEIDOrder(rows []Row) bool {
	prev, ok := parseInt(rows[0].Get(ColEID))
	if !ok {
		return false
	}
	for i := 1; i < len(rows); i++ {
		v, ok := parseInt(rows[i].Get(ColEID))
		if !ok || rows[i].Table != rows[0].Table || v < prev || (v == prev && rows[i].Seq < rows[i-1].Seq) {
			return false
		}
		prev = v
	}
	return true
}

// OrderSecond orders, in place, the rows of ONE host's ONE second, whose
// true order osquery lost (process and socket events are batched apart and
// share the second they were processed in):
//
//   - process rows (and rows of any other table) in eid order, or Seq order
//     when eids are missing or come from several tables;
//   - each socket row right after the latest row of the same pid that
//     started the image the socket row names (an exec, or a fork whose child
//     runs that image) with an equal path;
//   - socket rows with no such row before all process rows (the process
//     already existed);
//   - socket rows keep their own relative order (eid, else Seq) among those
//     placed at the same spot.
func OrderSecond(rows []Row) {
	var o secondOrder
	o.order(rows)
}

// SecondOrderer puts a second's rows in OrderSecond's order, keeping its
// working memory from one second to the next. The zero value is ready.
type SecondOrderer struct{ o secondOrder }

// Order is OrderSecond.
func (s *SecondOrderer) Order(rows []Row) { s.o.order(rows) }

// secondOrder keeps OrderSecond's working memory between seconds.
type secondOrder struct {
	procs, socks []Row
	latest       map[execImage]int
	slot         []int // for each socket row, the process row it follows
	start        []int // counting sort of the socket rows by slot
	bySlot       []int
	out          []Row
}

// execImage is a process image a row started: its pid and path.
type execImage struct{ pid, path string }

func (o *secondOrder) order(rows []Row) {
	if len(rows) < 2 {
		return
	}
	o.procs, o.socks = o.procs[:0], o.socks[:0]
	for _, r := range rows {
		if isSocketTable(r.Table) {
			o.socks = append(o.socks, r)
		} else {
			o.procs = append(o.procs, r)
		}
	}
	procs, socks := o.procs, o.socks
	if len(socks) == 0 || len(procs) == 0 {
		sortByEID(rows)
		return
	}
	sortByEID(procs)
	sortByEID(socks)

	// The latest row starting each (pid, path) image, found in one pass.
	if o.latest == nil {
		o.latest = make(map[execImage]int, len(procs))
	}
	clear(o.latest)
	for i := range procs {
		p := &procs[i]
		if path := p.Get(ColPath); path != "" && startsProcessImage(p) {
			o.latest[execImage{p.Get(ColPid), path}] = i
		}
	}
	// Each socket row goes right after the process row of its slot;
	// slot -1 goes first. Socket rows keep their order within a slot.
	o.slot = o.slot[:0]
	for i := range socks {
		s := &socks[i]
		slot := -1
		if path := s.Get(ColPath); path != "" {
			if j, ok := o.latest[execImage{s.Get(ColPid), path}]; ok {
				slot = j
			}
		}
		o.slot = append(o.slot, slot)
	}
	// A counting sort of the socket rows by slot keeps their order
	// within one.
	o.start = append(o.start[:0], make([]int, len(procs)+2)...)
	for _, sl := range o.slot {
		o.start[sl+2]++
	}
	for j := 1; j < len(o.start); j++ {
		o.start[j] += o.start[j-1]
	}
	o.bySlot = append(o.bySlot[:0], make([]int, len(socks))...)
	for i, sl := range o.slot {
		o.bySlot[o.start[sl+1]] = i
		o.start[sl+1]++
	}
	// start[j+1] is now where slot j's rows end (and slot j+1's begin).
	out := o.out[:0]
	next := 0
	emitSlot := func(slot int) {
		for ; next < o.start[slot+1]; next++ {
			out = append(out, socks[o.bySlot[next]])
		}
	}
	emitSlot(-1)
	for i := range procs {
		out = append(out, procs[i])
		emitSlot(i)
	}
	copy(rows, out)
	o.out = out[:0]
	clear(o.procs)
	clear(o.socks)
	clear(o.out[:cap(o.out)])
}

// Reorderer buffers rows read from logs (where tables and hosts interleave
// out of order), groups them by (host, second) and releases each second, in
// the order OrderSecond gives, once it is older than the newest second seen
// minus the window.
//
// Buffered rows are kept encoded, their columns end to end in one byte
// buffer per host and second (a row of osquery's process_events takes
// about its values' length plus two bytes per column), and memory is
// bounded in bytes: when the buffers would pass maxBytes, the oldest
// second is released early, its rows counted (ReorderStats.EarlyRows). A
// row arriving later for a second already released is counted as late and
// emitted at once.
//
// The buffers are chunks of a slab.Pool, outside the Go heap, reused as
// soon as their second is released: a full window then costs its bytes
// once, not a multiple of them set by the collector's goal. Rows are
// emitted as views of those chunks, so a row and its strings are valid
// only until the emit returns; whatever outlives it must be copied. (Rows
// emitted at once, late or untimed, have strings of their own.)
//
// It reads each row's second from its time column; rows without a valid
// time are emitted at once (the normalizer will reject them). A Reorderer
// is not safe for concurrent use.
type Reorderer struct {
	window   int64 // seconds
	maxBytes int

	buckets map[int64]*secondBucket
	seconds secondHeap
	bytes   int // capacity of the buffers held
	rows    int
	newest  int64
	// released is the newest second released so far; -1 before any.
	released int64
	stats    ReorderStats
	sink     func(HostSecond)
	warm     func([]Row) // called with each host's second before its rows are emitted
	pool     *slab.Pool
	freeHost []*hostBuffer
	scratch  []byte
	second   SecondBuffer // the second being emitted
}

type secondBucket struct {
	hosts map[string]*hostBuffer
}

// hostBuffer holds one host's rows of one second, encoded, in chunks (see
// add), so that it never copies what it holds and a second of one row
// takes a kilobyte.
type hostBuffer struct {
	chunks [][]byte
	rows   int
}

// The classes of a second's chunks after its first (see add).
var (
	growClass  = slab.Class(4 << 10)
	denseClass = slab.Class(16 << 10)
)

// add appends one encoded row.
func (o *Reorderer) add(hb *hostBuffer, row []byte) {
	n := len(hb.chunks)
	if n > 0 {
		last := hb.chunks[n-1]
		if len(last)+len(row) <= cap(last) {
			hb.chunks[n-1] = append(last, row...)
			return
		}
	}
	// A second starts with the smallest chunk (most hold a row or two),
	// goes on in four of 4 KiB and then in 16 KiB ones: a second then
	// wastes about part of its last chunk, where doubling chunks wasted
	// a quarter of it on average, and a dense host's seconds still take
	// few chunks. A row larger than that gets a chunk that fits it.
	class := 0
	switch {
	case n > 4:
		class = denseClass
	case n > 0:
		class = growClass
	}
	if len(row) > slab.Size(class) {
		class = slab.Class(len(row))
	}
	var c []byte
	if len(row) > slab.Size(class) {
		c = make([]byte, 0, len(row)) // a row of its own, on the heap
	} else {
		c = o.pool.Get(class)
	}
	o.bytes += cap(c)
	hb.chunks = append(hb.chunks, append(c, row...))
}

// release returns a buffer's chunks to the pool.
func (o *Reorderer) release(hb *hostBuffer) {
	for i, c := range hb.chunks {
		o.bytes -= cap(c)
		o.pool.Put(c)
		hb.chunks[i] = nil
	}
	hb.chunks, hb.rows = hb.chunks[:0], 0
	if len(o.freeHost) < 1024 {
		o.freeHost = append(o.freeHost, hb)
	}
}

// Per-bucket bookkeeping counted against the bound besides the buffers.
const bucketOverhead = 128

// ReorderStats are a Reorderer's counters.
type ReorderStats struct {
	// Late rows arrived for a second already released; they were emitted
	// at once, out of order.
	Late uint64
	// Early counts seconds released before their time because the buffer
	// was full, and EarlyRows their rows.
	Early     uint64
	EarlyRows uint64
	// Untimed rows had no valid time column and were emitted at once.
	Untimed uint64
	// Buffered is how many rows are held now, and BufferedBytes the memory
	// their buffers take.
	Buffered      int
	BufferedBytes int
	// PeakBytes is the most BufferedBytes has been.
	PeakBytes int
}

// DefaultMaxBufferedBytes bounds a Reorderer's buffers when NewReorderer is
// given a non-positive maxBytes: 64 MiB, about 290,000 rows of osquery's
// process_events as a results log's reader leaves them (without the
// columns no event reads, normalize.Unread), 250,000 with every column.
const DefaultMaxBufferedBytes = 64 << 20

// NewReorderer returns a Reorderer that holds back seconds newer than the
// newest second seen minus window (rounded up to whole seconds; 0 holds
// back only the newest second) in at most maxBytes of buffers.
func NewReorderer(window time.Duration, maxBytes int) *Reorderer {
	if window < 0 {
		window = 0
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBufferedBytes
	}
	return &Reorderer{
		window:   int64((window + time.Second - 1) / time.Second),
		maxBytes: maxBytes,
		// The buffers' classes shift as seconds fill differently; the
		// slack lets the free chunks of one class wait for reuse while
		// another's are taken.
		pool:     slab.New(maxBytes + maxBytes/4 + 4<<20),
		buckets:  map[int64]*secondBucket{},
		newest:   -1,
		released: -1,
	}
}

// Stats returns the counters.
func (o *Reorderer) Stats() ReorderStats {
	s := o.stats
	s.Buffered = o.rows
	s.BufferedBytes = o.bytes
	return s
}

// Push adds a row and emits every row whose second is now old enough. The
// row is copied: its strings and Fields may be reused once Push returns.
func (o *Reorderer) Push(r Row, emit func(Row)) {
	sec, ok := parseInt(r.Get(ColTime))
	if !ok || sec < 0 {
		o.stats.Untimed++
		emit(r.Clone()) // emitted at once: its strings are its own
		return
	}
	if sec <= o.released {
		o.stats.Late++
		emit(r.Clone()) // emitted at once: its strings are its own
		return
	}
	o.scratch = encodeRow(o.scratch[:0], &r)
	o.pushEncoded(sec, r.Host, o.scratch, emit)
}

// PushEncoded is Push for a row of a RowBatch, which it buffers as it
// comes, without decoding it (a row emitted at once is decoded).
func (o *Reorderer) PushEncoded(br BatchRow, emit func(Row)) {
	sec, ok := parseInt(br.Time)
	if !ok || sec < 0 || sec <= o.released {
		o.Push(br.Row(), emit)
		return
	}
	o.pushEncoded(sec, br.Host, br.enc, emit)
}

// pushEncoded buffers an encoded row of a second not yet released.
func (o *Reorderer) pushEncoded(sec int64, host string, enc []byte, emit func(Row)) {
	b := o.buckets[sec]
	if b == nil {
		b = &secondBucket{hosts: map[string]*hostBuffer{}}
		o.buckets[sec] = b
		heap.Push(&o.seconds, sec)
		o.bytes += bucketOverhead
	}
	hb := b.hosts[host]
	if hb == nil {
		hb = o.newHostBuffer()
		b.hosts[strings.Clone(host)] = hb
		o.bytes += bucketOverhead + len(host)
	}
	o.add(hb, enc)
	hb.rows++
	o.rows++
	o.stats.PeakBytes = max(o.stats.PeakBytes, o.bytes)
	if sec > o.newest {
		o.newest = sec
	}
	for len(o.seconds) > 0 && o.seconds[0] < o.newest-o.window {
		o.releaseOldest(emit)
	}
	for o.bytes > o.maxBytes && len(o.seconds) > 0 {
		o.stats.Early++
		o.stats.EarlyRows += uint64(o.buckets[o.seconds[0]].rowCount())
		o.releaseOldest(emit)
	}
}

func (o *Reorderer) newHostBuffer() *hostBuffer {
	if n := len(o.freeHost); n > 0 {
		hb := o.freeHost[n-1]
		o.freeHost = o.freeHost[:n-1]
		return hb
	}
	return &hostBuffer{}
}

func (b *secondBucket) rowCount() int {
	n := 0
	for _, hb := range b.hosts {
		n += hb.rows
	}
	return n
}

// Flush emits everything still buffered, oldest second first.
func (o *Reorderer) Flush(emit func(Row)) {
	for len(o.seconds) > 0 {
		o.releaseOldest(emit)
	}
}

func (o *Reorderer) releaseOldest(emit func(Row)) {
	sec := heap.Pop(&o.seconds).(int64)
	b := o.buckets[sec]
	delete(o.buckets, sec)
	names := make([]string, 0, len(b.hosts))
	for h := range b.hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	o.bytes -= bucketOverhead
	for _, h := range names {
		hb := b.hosts[h]
		o.rows -= hb.rows
		o.bytes -= bucketOverhead + len(h)
		if o.sink != nil {
			// The chunks go with the second, and come back to the pool
			// when its consumer releases it.
			for _, c := range hb.chunks {
				o.bytes -= cap(c)
			}
			o.sink(HostSecond{Host: h, chunks: hb.chunks, n: hb.rows, pool: o.pool})
			*hb = hostBuffer{}
			continue
		}
		rows := o.second.view(hb.chunks, hb.rows, h)
		if o.warm != nil {
			o.warm(rows)
		}
		for _, r := range rows {
			emit(r)
		}
		o.second.done()
		o.release(hb)
	}
	if sec > o.released {
		o.released = sec
	}
}

// HostSecond is one host's rows of one second as a Reorderer buffered
// them, handed over whole (SetSink) so that another goroutine decodes and
// orders them, and then releases them.
type HostSecond struct {
	Host   string
	chunks [][]byte
	n      int
	pool   *slab.Pool
}

// Len is the number of rows.
func (h HostSecond) Len() int { return h.n }

// View decodes the rows, in the order OrderSecond gives, as views of the
// second's buffers, into buf's memory: they are valid until Release, and
// until buf's next View.
func (h HostSecond) View(buf *SecondBuffer) []Row {
	buf.done()
	return buf.view(h.chunks, h.n, h.Host)
}

// SecondBuffer is the memory a second's rows are decoded and ordered in,
// reused from one second to the next. The zero value is ready.
type SecondBuffer struct {
	rows   []Row
	fields []Fields
	order  secondOrder
}

func (b *SecondBuffer) view(chunks [][]byte, n int, host string) []Row {
	b.rows, b.fields = viewRows(chunks, n, host, b.rows, b.fields)
	b.order.order(b.rows)
	return b.rows
}

// done drops the views of the last second, which must not outlive its
// buffers.
func (b *SecondBuffer) done() { clear(b.rows) }

// Release gives the second's buffers back to its Reorderer's pool; no row
// View returned may be used afterwards. It may be called from any
// goroutine, once.
func (h HostSecond) Release() {
	for _, c := range h.chunks {
		h.pool.Put(c)
	}
}

// SetSink makes the Reorderer hand each released host's second to sink,
// undecoded, instead of emitting its rows. Rows emitted at once (late or
// untimed) still go to the emit function given to Push.
func (o *Reorderer) SetSink(sink func(HostSecond)) { o.sink = sink }

// SetWarm has warm called with each host's second of rows before they are
// emitted one by one (a consumer may prepare for them: Sensor.Warm).
func (o *Reorderer) SetWarm(warm func([]Row)) { o.warm = warm }

type secondHeap []int64

func (h secondHeap) Len() int           { return len(h) }
func (h secondHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secondHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secondHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *secondHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// Held returns the rows held back now, in the order Push received them
// within each (second, host), seconds oldest first and hosts by name: a
// state file keeps them so that a later run pushes them again into a
// Reorderer restored with Resume, and releases them exactly as this one
// would have.
func (o *Reorderer) Held() []Row {
	secs := make([]int64, 0, len(o.buckets))
	for s := range o.buckets {
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	out := make([]Row, 0, o.rows)
	for _, s := range secs {
		b := o.buckets[s]
		names := make([]string, 0, len(b.hosts))
		for h := range b.hosts {
			names = append(names, h)
		}
		sort.Strings(names)
		for _, h := range names {
			hb := b.hosts[h]
			out = append(out, decodeRows(hb.chunks, hb.rows, h)...)
		}
	}
	return out
}

// Close gives back the memory of the buffers. Nothing the Reorderer
// emitted or handed over may be used afterwards.
func (o *Reorderer) Close() { o.pool.Close() }

// Released returns the newest second released so far (-1 before any).
func (o *Reorderer) Released() int64 { return o.released }

// Resume makes a new Reorderer continue after one that had released
// seconds up to released: rows of those seconds count as late.
func (o *Reorderer) Resume(released int64) {
	if released > o.released {
		o.released = released
	}
}
