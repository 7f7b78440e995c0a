package normalize

import (
	"container/heap"
	"sort"
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
	switch r.Cols["syscall"] {
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
		v, ok := parseInt(rows[i].Cols["eid"])
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
		if path := p.Cols["path"]; path != "" && startsProcessImage(p) {
			latest[image{p.Cols["pid"], path}] = i
		}
	}
	// after[i] lists the socket rows that go right after procs[i]; slot
	// len(procs) holds those that go first.
	after := make([][]Row, len(procs)+1)
	for _, s := range socks {
		slot := len(procs)
		if i, ok := latest[image{s.Cols["pid"], s.Cols["path"]}]; ok && s.Cols["path"] != "" {
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
// minus the window. Memory is bounded by maxBuffered rows: beyond it, the
// oldest second is released early. It reads each row's second from
// Cols["time"]; rows without a valid time are emitted at once (the
// normalizer will reject them). A Reorderer is not safe for concurrent use.
type Reorderer struct {
	window      int64 // seconds
	maxBuffered int

	buckets  map[int64]map[string][]Row
	seconds  secondHeap
	buffered int
	newest   int64
	released int64 // the newest second released so far; -1 before any
	stats    ReorderStats
}

// ReorderStats are a Reorderer's counters.
type ReorderStats struct {
	// Late rows arrived for a second already released; they were emitted
	// at once, out of order.
	Late uint64
	// Early counts seconds released before their time because the buffer
	// was full.
	Early uint64
	// Untimed rows had no valid time column and were emitted at once.
	Untimed uint64
	// Buffered is how many rows are held now.
	Buffered int
}

// DefaultMaxBuffered bounds a Reorderer's buffer when NewReorderer is given
// a non-positive maxBuffered.
const DefaultMaxBuffered = 1 << 20

// NewReorderer returns a Reorderer that holds back seconds newer than the
// newest second seen minus window (rounded up to whole seconds; 0 holds
// back only the newest second) and at most maxBuffered rows.
func NewReorderer(window time.Duration, maxBuffered int) *Reorderer {
	if window < 0 {
		window = 0
	}
	if maxBuffered <= 0 {
		maxBuffered = DefaultMaxBuffered
	}
	return &Reorderer{
		window:      int64((window + time.Second - 1) / time.Second),
		maxBuffered: maxBuffered,
		buckets:     map[int64]map[string][]Row{},
		newest:      -1,
		released:    -1,
	}
}

// Stats returns the counters.
func (o *Reorderer) Stats() ReorderStats {
	s := o.stats
	s.Buffered = o.buffered
	return s
}

// Push adds a row and emits every row whose second is now old enough.
func (o *Reorderer) Push(r Row, emit func(Row)) {
	sec, ok := parseInt(r.Cols["time"])
	if !ok || sec < 0 {
		o.stats.Untimed++
		emit(r)
		return
	}
	if sec <= o.released {
		o.stats.Late++
		emit(r)
		return
	}
	hosts := o.buckets[sec]
	if hosts == nil {
		hosts = map[string][]Row{}
		o.buckets[sec] = hosts
		heap.Push(&o.seconds, sec)
	}
	hosts[r.Host] = append(hosts[r.Host], r)
	o.buffered++
	if sec > o.newest {
		o.newest = sec
	}
	for len(o.seconds) > 0 && o.seconds[0] < o.newest-o.window {
		o.releaseOldest(emit)
	}
	for o.buffered > o.maxBuffered && len(o.seconds) > 0 {
		o.stats.Early++
		o.releaseOldest(emit)
	}
}

// Flush emits everything still buffered, oldest second first.
func (o *Reorderer) Flush(emit func(Row)) {
	for len(o.seconds) > 0 {
		o.releaseOldest(emit)
	}
}

func (o *Reorderer) releaseOldest(emit func(Row)) {
	sec := heap.Pop(&o.seconds).(int64)
	hosts := o.buckets[sec]
	delete(o.buckets, sec)
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		rows := hosts[h]
		OrderSecond(rows)
		for _, r := range rows {
			emit(r)
		}
		o.buffered -= len(rows)
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
	out := make([]Row, 0, o.buffered)
	for _, s := range secs {
		hosts := o.buckets[s]
		names := make([]string, 0, len(hosts))
		for h := range hosts {
			names = append(names, h)
		}
		sort.Strings(names)
		for _, h := range names {
			out = append(out, hosts[h]...)
		}
	}
	return out
}

// Released returns the newest second released so far (-1 before any).
func (o *Reorderer) Released() int64 { return o.released }

// Resume makes a new Reorderer continue after one that had released
// seconds up to released: rows of those seconds count as late.
func (o *Reorderer) Resume(released int64) {
	if released > o.released {
		o.released = released
	}
}
