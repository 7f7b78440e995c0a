package normalize

import (
	"container/heap"
	"sort"
	"strings"
	"time"
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
	if len(rows) < 2 {
		return
	}
	var procs, socks []Row
	for _, r := range rows {
		if isSocketTable(r.Table) {
			socks = append(socks, r)
		} else {
			procs = append(procs, r)
		}
	}
	if len(socks) == 0 || len(procs) == 0 {
		sortByEID(rows)
		return
	}
	sortByEID(procs)
	sortByEID(socks)

	// The latest row starting each (pid, path) image, found in one pass.
	type image struct{ pid, path string }
	latest := make(map[image]int, len(procs))
	for i := range procs {
		p := &procs[i]
		if path := p.Get(ColPath); path != "" && startsProcessImage(p) {
			latest[image{p.Get(ColPid), path}] = i
		}
	}
	// after[i] lists the socket rows that go right after procs[i]; slot
	// len(procs) holds those that go first.
	after := make([][]Row, len(procs)+1)
	for _, s := range socks {
		slot := len(procs)
		if i, ok := latest[image{s.Get(ColPid), s.Get(ColPath)}]; ok && s.Get(ColPath) != "" {
			slot = i
		}
		after[slot] = append(after[slot], s)
	}
	out := rows[:0]
	out = append(out, after[len(procs)]...)
	for i := range procs {
		out = append(out, procs[i])
		out = append(out, after[i]...)
	}
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
// emitted at once. Rows are emitted with Fields, whose strings stay valid
// after the emit returns (each row's values are one string of their own).
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
	free     []*hostBuffer
	scratch  []byte
}

type secondBucket struct {
	hosts map[string]*hostBuffer
}

type hostBuffer struct {
	data []byte
	rows int
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
// given a non-positive maxBytes: 64 MiB, about 200,000 rows of osquery's
// process_events.
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
		emit(o.own(r))
		return
	}
	if sec <= o.released {
		o.stats.Late++
		emit(o.own(r))
		return
	}
	b := o.buckets[sec]
	if b == nil {
		b = &secondBucket{hosts: map[string]*hostBuffer{}}
		o.buckets[sec] = b
		heap.Push(&o.seconds, sec)
		o.bytes += bucketOverhead
	}
	hb := b.hosts[r.Host]
	if hb == nil {
		hb = o.newHostBuffer()
		b.hosts[strings.Clone(r.Host)] = hb
		o.bytes += bucketOverhead + len(r.Host)
	}
	before := cap(hb.data)
	hb.data = encodeRow(hb.data, &r)
	hb.rows++
	o.rows++
	o.bytes += cap(hb.data) - before
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

// own returns a copy of r whose strings are its own, for a row emitted at
// once.
func (o *Reorderer) own(r Row) Row {
	o.scratch = encodeRow(o.scratch[:0], &r)
	rows := decodeRows(o.scratch, 1, strings.Clone(r.Host))
	return rows[0]
}

func (o *Reorderer) newHostBuffer() *hostBuffer {
	if n := len(o.free); n > 0 {
		hb := o.free[n-1]
		o.free = o.free[:n-1]
		o.bytes += cap(hb.data)
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
		rows := decodeRows(hb.data, hb.rows, h)
		OrderSecond(rows)
		for _, r := range rows {
			emit(r)
		}
		o.rows -= hb.rows
		o.bytes -= cap(hb.data) + bucketOverhead + len(h)
		if cap(hb.data) <= 64<<10 && len(o.free) < 64 {
			// Kept for reuse (at most 4 MiB), counted again when reused.
			hb.data, hb.rows = hb.data[:0], 0
			o.free = append(o.free, hb)
		}
	}
	if sec > o.released {
		o.released = sec
	}
}

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
