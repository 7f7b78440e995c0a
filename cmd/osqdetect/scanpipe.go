package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/osqdetect/osqdetect/detect"
	"github.com/osqdetect/osqdetect/detect/normalize"
	"github.com/osqdetect/osqdetect/detect/osqlog"
	"github.com/osqdetect/osqdetect/detect/timeguard"
)

// scanPipeline is scan's path from bytes to alerts:
//
//	read (gzip or not) → osqlog's scanner → time guard (per host) →
//	reorder window (bounded in bytes) → engines → alerts in order
//
// Reading, judging times and reordering run on the caller's goroutine.
// With one shard the engine runs there too. With more, rows go in rounds
// to one engine per shard (a host always to the same one), and a merger
// writes each round's alerts in the order of the rows that raised them —
// the order one engine would have raised them in — applying the rules'
// rate limits and de-duplication there.
type scanPipeline struct {
	files   []string
	errw    io.Writer
	out     *alertWriter
	sensors []*detect.Sensor
	reorder *normalize.Reorderer
	seen    map[string]bool // alert ids written (overlapping logs)
	// With --state: the files earlier scans read (rows are numbered after
	// theirs), a hook run before the reorder window drains, and the ids of
	// the alerts of the rows it drains.
	fileBase    uint64
	beforeFlush func()
	flushing    bool
	flushed     []string
	sum         scanSummary

	now       int64
	guards    map[string]*hostGuard
	lastHost  string
	lastGuard *hostGuard

	// With more than one shard:
	limiter *detect.AlertLimiter
	// hostShard is each host's engine: hosts are dealt to the engines in
	// turn as they first come out of the window, so that hosts of equal
	// weight load the engines equally (a hash split 20 hosts 12 to 8).
	hostShard map[string]int
	nextShard int
	round     []*shardBatch // this round's rows, by shard
	inRound   int
	next      uint64
	work      []chan *shardBatch
	rounds    chan []*shardBatch
	merged    sync.WaitGroup
}

// roundRows is how many rows a round gives the engines between them.
const roundRows = 4096

type scanSummary struct {
	lines, badLines, badRows int
	badFiles, readFailures   int
	quarantined              int
	lastQuarantine           string
}

// hostGuard is one host's time guard and the rows it holds.
type hostGuard struct {
	host string
	g    *timeguard.Guard
	held []normalize.Row
}

// shardBatch is one shard's rows of a round, and what its engine made of
// them.
type shardBatch struct {
	items  []shardItem
	alerts []keyedAlert
	errs   []keyedErr
	done   chan struct{}
}

// shardItem is a row (late or untimed), or a host's second the reorder
// window released, which the shard decodes and orders itself; k is the
// stream place of its (first) row.
type shardItem struct {
	k      uint64
	row    normalize.Row
	second normalize.HostSecond
	whole  bool // second, not row
}

type keyedAlert struct {
	k uint64
	a *detect.Alert
}

type keyedErr struct {
	k   uint64
	seq uint64
	err error
}

func newScanPipeline(rules []*detect.Rule, opts detect.Options, shards int, window time.Duration, out *alertWriter, errw io.Writer, files []string) *scanPipeline {
	p := &scanPipeline{
		files:   files,
		errw:    errw,
		out:     out,
		reorder: normalize.NewReorderer(window, 0),
		seen:    map[string]bool{},
		now:     time.Now().Unix(),
		guards:  map[string]*hostGuard{},
	}
	if shards > 1 {
		p.limiter = detect.NewAlertLimiter(rules, opts)
		opts.DisableRateLimit = true
	}
	for i := 0; i < shards; i++ {
		p.sensors = append(p.sensors, detect.NewSensor(rules, detect.SensorOptions{Engine: opts}))
	}
	return p
}

// start starts the engines' goroutines, when there is more than one shard.
func (p *scanPipeline) start() {
	n := len(p.sensors)
	if n == 1 {
		p.reorder.SetWarm(p.sensors[0].Warm)
		return
	}
	p.hostShard = map[string]int{}
	p.newRound()
	p.reorder.SetSink(p.processSecond)
	p.rounds = make(chan []*shardBatch, 2)
	for i := range p.sensors {
		ch := make(chan *shardBatch, 2)
		p.work = append(p.work, ch)
		go runShard(p.sensors[i], ch)
	}
	p.merged.Add(1)
	go p.merge()
}

func runShard(s *detect.Sensor, batches <-chan *shardBatch) {
	var second normalize.SecondBuffer
	for b := range batches {
		var k uint64
		emit := func(a *detect.Alert) { b.alerts = append(b.alerts, keyedAlert{k, a}) }
		process := func(row normalize.Row) {
			if err := s.Process(row, emit); err != nil {
				b.errs = append(b.errs, keyedErr{k, row.Seq, err})
			}
			k++
		}
		for _, it := range b.items {
			k = it.k
			if !it.whole {
				process(it.row)
				continue
			}
			rows := it.second.View(&second)
			s.Warm(rows)
			for _, row := range rows {
				process(row)
			}
			it.second.Release()
		}
		close(b.done)
	}
}

// merge writes each round's alerts and errors in the stream's order.
func (p *scanPipeline) merge() {
	defer p.merged.Done()
	for batches := range p.rounds {
		var alerts []keyedAlert
		var errs []keyedErr
		for _, b := range batches {
			<-b.done
			alerts = mergeKeyed(alerts, b.alerts, func(x keyedAlert) uint64 { return x.k })
			errs = mergeKeyed(errs, b.errs, func(x keyedErr) uint64 { return x.k })
		}
		for _, e := range errs {
			p.rowError(e.seq, e.err)
		}
		for _, ka := range alerts {
			if p.limiter.Allow(ka.a) {
				p.emit(ka.a)
			}
		}
	}
}

// mergeKeyed merges two lists sorted by key, keeping a's items first on
// equal keys (a row's alerts all come from one shard anyway).
func mergeKeyed[T any](a, b []T, key func(T) uint64) []T {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return append([]T(nil), b...)
	}
	out := make([]T, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if key(b[j]) < key(a[i]) {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func (p *scanPipeline) emit(a *detect.Alert) {
	if p.flushing {
		p.flushed = append(p.flushed, a.ID)
	}
	if p.seen[a.ID] {
		return // overlapping logs: the same events give the same alert
	}
	p.seen[a.ID] = true
	p.out.add(a)
}

func (p *scanPipeline) rowError(seq uint64, err error) {
	p.sum.badRows++
	fmt.Fprintf(p.errw, "osqdetect scan: %s: skipped row: %v\n", rowPlace(p.files, p.fileBase, seq), err)
}

// process takes the reorder window's rows, in order.
func (p *scanPipeline) process(r normalize.Row) {
	if len(p.sensors) == 1 {
		if err := p.sensors[0].Process(r, p.emit); err != nil {
			p.rowError(r.Seq, err)
		}
		return
	}
	b := p.round[p.shardOf(r.Host)]
	b.items = append(b.items, shardItem{k: p.next, row: r})
	p.next++
	p.inRound++
	if p.inRound >= roundRows {
		p.submit()
	}
}

// processSecond takes a host's second from the reorder window, whole: its
// shard decodes and orders it.
func (p *scanPipeline) processSecond(h normalize.HostSecond) {
	b := p.round[p.shardOf(h.Host)]
	b.items = append(b.items, shardItem{k: p.next, second: h, whole: true})
	p.next += uint64(h.Len())
	p.inRound += h.Len()
	if p.inRound >= roundRows {
		p.submit()
	}
}

// shardOf returns the engine of a host, dealing a new host to the next.
func (p *scanPipeline) shardOf(host string) int {
	s, ok := p.hostShard[host]
	if !ok {
		s = p.nextShard
		p.nextShard = (p.nextShard + 1) % len(p.sensors)
		p.hostShard[strings.Clone(host)] = s
	}
	return s
}

func (p *scanPipeline) newRound() {
	p.round = make([]*shardBatch, len(p.sensors))
	for i := range p.round {
		p.round[i] = &shardBatch{done: make(chan struct{})}
	}
	p.inRound = 0
}

// submit hands the round to the engines and the merger.
func (p *scanPipeline) submit() {
	if p.inRound == 0 {
		return
	}
	p.rounds <- p.round
	for s, b := range p.round {
		p.work[s] <- b
	}
	p.newRound()
}

// finish drains everything: rows the guards still hold are quarantined,
// the reorder window is flushed, the last round processed and merged.
func (p *scanPipeline) finish() {
	for host, hg := range p.guards {
		if n := hg.g.Settle(); n > 0 {
			for _, r := range hg.held {
				p.quarantine(r, "time "+r.Get(normalize.ColTime)+" jumps ahead of host "+host+"'s other rows and no later row followed it")
			}
			hg.held = nil
		}
	}
	if p.beforeFlush != nil {
		p.beforeFlush()
	}
	p.flushing = len(p.sensors) == 1 // --state runs one engine
	p.reorder.Flush(p.process)
	if len(p.sensors) > 1 {
		p.submit()
		close(p.rounds)
		for _, ch := range p.work {
			close(ch)
		}
		p.merged.Wait()
	}
	p.reorder.Close()
}

// push judges a row's time and passes it on to the reorder window.
func (p *scanPipeline) push(r normalize.Row) {
	p.judge(r.Host, r.Get(normalize.ColTime), incoming{row: r})
}

// pushEncoded is push for a row of a parser's batch, which goes into the
// reorder window without being decoded unless it must be held back or
// quarantined.
func (p *scanPipeline) pushEncoded(br normalize.BatchRow) {
	p.judge(br.Host, br.Time, incoming{batch: br, encoded: true})
}

// incoming is a row as read (row), or still encoded in a batch.
type incoming struct {
	row     normalize.Row
	batch   normalize.BatchRow
	encoded bool
}

func (in incoming) decoded() normalize.Row {
	if in.encoded {
		return in.batch.Row()
	}
	return in.row
}

func (p *scanPipeline) admit(in incoming) {
	if in.encoded {
		p.reorder.PushEncoded(in.batch, p.process)
		return
	}
	p.reorder.Push(in.row, p.process)
}

func (p *scanPipeline) judge(host, timeText string, in incoming) {
	t, err := parseSecond(timeText)
	if err != nil {
		p.admit(in) // counted as untimed; the normalizer rejects it
		return
	}
	hg := p.lastGuard
	if host != p.lastHost || hg == nil {
		hg = p.guards[host]
		if hg == nil {
			hg = &hostGuard{host: strings.Clone(host), g: timeguard.New(timeguard.Policy{})}
			p.guards[hg.host] = hg
		}
		p.lastHost, p.lastGuard = hg.host, hg
	}
	o := hg.g.Judge(t, p.now)
	if o.Discard > 0 {
		for _, h := range hg.held {
			p.quarantine(h, "time "+h.Get(normalize.ColTime)+" jumps ahead of host "+h.Host+"'s other rows, which went on from before it")
		}
		hg.held = hg.held[:0]
	}
	switch o.Verdict {
	case timeguard.Admit:
		if o.Release {
			for _, h := range hg.held {
				p.reorder.Push(h, p.process)
			}
			hg.held = hg.held[:0]
		}
		p.admit(in)
	case timeguard.Hold:
		hg.held = append(hg.held, ownRow(in.decoded()))
	case timeguard.Quarantine:
		p.quarantine(in.decoded(), "time "+timeText+" is more than "+timeguard.DefaultClockSkew.String()+" past this machine's clock")
	}
}

func (p *scanPipeline) quarantine(r normalize.Row, why string) {
	p.sum.quarantined++
	place := rowPlace(p.files, p.fileBase, r.Seq)
	p.sum.lastQuarantine = place + ": " + why
	fmt.Fprintf(p.errw, "osqdetect scan: %s: row quarantined: %s\n", place, why)
}

func parseSecond(s string) (int64, error) {
	var n int64
	if s == "" || len(s) > 18 {
		return 0, errors.New("not a time")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not a time")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// ownRow copies a row whose strings are views of a reader's buffers.
func ownRow(r normalize.Row) normalize.Row {
	cols := map[string]string{}
	r.Range(func(k, v string) { cols[strings.Clone(k)] = strings.Clone(v) })
	return normalize.Row{Table: r.Table, Host: strings.Clone(r.Host), Seq: r.Seq, Cols: cols}
}

// scanFile reads one results log (gzip-compressed or not) into the
// pipeline. A file that cannot be opened or is not a valid gzip stream is
// bad input; a read that fails midway is a runtime failure. Either way,
// what was read stays read, and the next file is read.
func (p *scanPipeline) scanFile(ctx context.Context, path string, index uint64, stdin io.Reader) {
	var in io.Reader = stdin
	name := "stdin"
	regular := false
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			p.sum.badFiles++
			fmt.Fprintf(p.errw, "osqdetect scan: opening results log: %v\n", err)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			p.sum.badFiles++
			fmt.Fprintf(p.errw, "osqdetect scan: %s is a directory, not a results log\n", path)
			return
		}
		in, name, regular = f, path, err == nil && st.Mode().IsRegular()
	} else if f, ok := stdin.(*os.File); ok {
		st, err := f.Stat()
		regular = err == nil && st.Mode().IsRegular()
	}
	if !regular {
		in = interruptible(ctx, in)
	}
	br := bufio.NewReaderSize(in, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			p.sum.badFiles++
			fmt.Fprintf(p.errw, "osqdetect scan: %s: not a valid gzip file: %v\n", name, err)
			return
		}
		defer zr.Close()
		in = zr
	} else {
		in = br
	}
	if runtime.GOMAXPROCS(0) > 1 {
		p.readParallel(ctx, in, name, index)
		return
	}
	r := osqlog.NewReader(in, name)
	defer func() { p.sum.lines += r.Stats().Lines }()
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			fmt.Fprintf(p.errw, "osqdetect scan: %s: stopped after line %d: interrupted\n", name, r.Stats().Lines)
			return
		}
		rows, err := r.NextView()
		if err == io.EOF {
			return
		}
		if err != nil && osqlog.IsLineError(err) {
			p.badLine(err)
			continue
		}
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(p.errw, "osqdetect scan: %s: stopped after line %d: interrupted\n", name, r.Stats().Lines)
			return
		}
		if err != nil {
			p.readError(err)
			return
		}
		line := uint64(r.Stats().Lines)
		for _, row := range rows {
			row.Seq = index<<lineBits | line
			p.push(row)
		}
	}
}

func (p *scanPipeline) badLine(err error) {
	p.sum.badLines++
	fmt.Fprintf(p.errw, "osqdetect scan: skipped %v\n", err)
}

// readError counts a read that failed midway: a corrupt gzip stream is
// bad input, anything else a runtime failure.
func (p *scanPipeline) readError(err error) {
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		p.sum.badFiles++
	} else {
		p.sum.readFailures++
	}
	fmt.Fprintf(p.errw, "osqdetect scan: %v\n", err)
}

// A file is parsed in chunks of whole lines, by one goroutine per CPU;
// the caller's goroutine takes the chunks' rows in file order.
const (
	chunkBytes     = 256 << 10
	chunksInFlight = 8
)

// chunk is a run of whole lines of one file and what a parser made of it.
type chunk struct {
	data      []byte
	firstLine int // lines of the file before it
	lines     int
	rows      normalize.RowBatch
	lineErrs  []error
	readErr   error // reading stopped here (the chunk has no data)
	done      chan struct{}
}

func (p *scanPipeline) readParallel(ctx context.Context, in io.Reader, name string, index uint64) {
	ordered := make(chan *chunk, chunksInFlight)
	work := make(chan *chunk, chunksInFlight)
	// Chunks whose rows were taken go back to cutChunks, their buffers
	// kept: no more can be in flight than the channels and parsers hold.
	free := make(chan *chunk, 2*chunksInFlight+runtime.GOMAXPROCS(0)+1)
	stop := make(chan struct{})
	defer close(stop)
	go cutChunks(ctx, in, ordered, work, free, stop)
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go parseChunks(work, name, index)
	}
	for c := range ordered {
		<-c.done
		if c.readErr != nil {
			if errors.Is(c.readErr, context.Canceled) || errors.Is(c.readErr, context.DeadlineExceeded) {
				fmt.Fprintf(p.errw, "osqdetect scan: %s: stopped after line %d: interrupted\n", name, c.firstLine)
			} else {
				p.readError(fmt.Errorf("reading %s after line %d: %w", name, c.firstLine, c.readErr))
			}
			return
		}
		for _, err := range c.lineErrs {
			p.badLine(err)
		}
		p.sum.lines += c.lines
		c.rows.Each(p.pushEncoded)
		select {
		case free <- c:
		default:
		}
	}
}

// cutChunks reads whole lines into chunks and hands each to the parsers
// and, in order, to the consumer. It reads straight into a chunk's buffer
// and cuts it after its last line end; the unfinished line starts the next
// chunk. A line longer than osqlog.MaxLineBytes keeps only its first
// MaxLineBytes+1 bytes (osqlog reports it too long).
func cutChunks(ctx context.Context, in io.Reader, ordered, work chan<- *chunk, free <-chan *chunk, stop <-chan struct{}) {
	defer close(ordered)
	defer close(work)
	lines := 0
	next := func() *chunk {
		select {
		case c := <-free:
			c.rows.Reset()
			*c = chunk{data: c.data[:0], rows: c.rows, firstLine: lines, done: make(chan struct{})}
			return c
		default:
			return &chunk{data: make([]byte, 0, chunkBytes+chunkSlack), firstLine: lines, done: make(chan struct{})}
		}
	}
	send := func(c *chunk) bool {
		select {
		case ordered <- c:
		case <-stop:
			return false
		}
		if c.readErr != nil {
			close(c.done)
			return true
		}
		select {
		case work <- c:
			return true
		case <-stop:
			return false
		}
	}
	var carry []byte // the start of a line the last chunk did not end
	var readErr error
	for {
		if ctx.Err() != nil {
			c := next()
			c.readErr = ctx.Err()
			send(c)
			return
		}
		c := next()
		c.data = append(c.data, carry...)
		carry = carry[:0]
		for len(c.data) < chunkBytes && readErr == nil {
			c.data, readErr = readMore(in, c.data)
		}
		end := bytes.LastIndexByte(c.data, '\n') + 1
		if end == 0 && readErr == nil {
			// A line as long as the chunk: read on to its end, keeping
			// no more of it than a line may hold.
			c.data, carry, readErr = readLongLine(in, c.data)
			end = len(c.data)
		}
		if readErr != nil {
			end = len(c.data) // the last line, whatever its end
		}
		carry = append(carry, c.data[end:]...)
		c.data = c.data[:end]
		lines += bytes.Count(c.data, []byte{'\n'})
		if len(c.data) > 0 && !send(c) {
			return
		}
		if readErr != nil && len(carry) == 0 {
			if readErr != io.EOF {
				c = next()
				c.readErr = readErr
				send(c)
			}
			return
		}
	}
}

// maxLineBytes is osqlog.MaxLineBytes, a variable so that tests can cut
// long lines without reading sixteen megabytes. It must be well over a
// chunk and what a chunk may carry over from the last (TestCutChunks
// checks): only a line that does not end within its chunk is measured.
var maxLineBytes = osqlog.MaxLineBytes

// chunkSlack is room a chunk's buffer has past chunkBytes, so that the
// read that fills it need not be a short one.
const chunkSlack = 64 << 10

// readMore appends one read's bytes to b, growing it when it is full.
func readMore(in io.Reader, b []byte) ([]byte, error) {
	if cap(b)-len(b) < 4096 {
		b = slices.Grow(b, max(cap(b), chunkSlack))
	}
	for tries := 0; tries < 100; tries++ { // as bufio bears readers that return nothing
		n, err := in.Read(b[len(b):cap(b)])
		if b = b[:len(b)+n]; n > 0 || err != nil {
			return b, err
		}
	}
	return b, io.ErrNoProgress
}

// readLongLine reads on from b, which holds the start of one line and no
// line end, to the line's end. It returns the line, what was read after
// it, and the read's error (io.EOF ends the line too). A line longer than
// osqlog.MaxLineBytes+1 bytes with its end keeps its first that many
// bytes and a line end, as a line cut short (a last line without an end
// gets none).
func readLongLine(in io.Reader, b []byte) (line, after []byte, err error) {
	limit := maxLineBytes + 1
	cut := func(b []byte, nl int) ([]byte, []byte) { // the line ends at b[nl]
		after := append([]byte(nil), b[nl+1:]...)
		if nl+1 <= limit {
			return b[:nl+1], after
		}
		return append(b[:limit], '\n'), after
	}
	for len(b) <= limit {
		at := len(b)
		b, err = readMore(in, b)
		if i := bytes.IndexByte(b[at:], '\n'); i >= 0 {
			line, after = cut(b, at+i)
			return line, after, err
		}
		if err != nil {
			return b[:min(len(b), limit)], nil, err
		}
	}
	// Too long, and its end not read yet: skip to it.
	b = b[:limit]
	scratch := make([]byte, 0, chunkSlack)
	for {
		scratch, err = readMore(in, scratch[:0])
		if i := bytes.IndexByte(scratch, '\n'); i >= 0 {
			return append(b, '\n'), append([]byte(nil), scratch[i+1:]...), err
		}
		if err != nil {
			return b, nil, err
		}
	}
}

// parseChunks parses chunks into row batches.
func parseChunks(work <-chan *chunk, name string, index uint64) {
	r := osqlog.NewBytesReader(nil, name)
	for c := range work {
		r.ResetBytes(c.data)
		r.SetLine(c.firstLine)
		for {
			rows, err := r.NextView()
			if err == io.EOF {
				break
			}
			if err != nil {
				// Only a LineError can come from bytes in memory.
				c.lineErrs = append(c.lineErrs, err)
				continue
			}
			line := uint64(c.firstLine + r.Stats().Lines)
			for _, row := range rows {
				row.Seq = index<<lineBits | line
				c.rows.Add(row)
			}
		}
		c.lines = r.Stats().Lines
		close(c.done)
	}
}

// interruptible returns in wrapped so that a read that blocks ends when
// ctx is done. scanFile leaves regular files unwrapped: their reads never
// wait for long (the readers check ctx between chunks and lines), and the
// wrapper would cost a goroutine and a copy of every read on the reading
// goroutine, which a scan on several CPUs waits for.
func interruptible(ctx context.Context, in io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: in}
}

// ctxReader ends a read that blocks (a pipe or terminal on stdin that
// stays quiet) when the context is done, so that an interrupt ends scan
// promptly, its output drained. Each read happens on a goroutine into a
// buffer of its own, reused while reads complete; an abandoned read
// finishes into a buffer no one else holds.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	ch  chan readResult
	buf []byte
}

type readResult struct {
	b   []byte
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.ch == nil {
		c.ch = make(chan readResult, 1)
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf, ch := c.buf[:len(p)], c.ch
	go func() {
		k, err := c.r.Read(buf)
		ch <- readResult{buf[:k], err}
	}()
	select {
	case res := <-ch:
		return copy(p, res.b), res.err
	case <-c.ctx.Done():
		c.ch, c.buf = nil, nil // the read still running keeps both
		return 0, c.ctx.Err()
	}
}

// printSummary prints the counters as one line.
func (p *scanPipeline) printSummary(w io.Writer, files int) {
	var rows, events int64
	var suppressed int64
	for _, s := range p.sensors {
		st := s.Stats()
		rows += st.Rows
		events += int64(st.Normalize.Events)
		suppressed += st.Suppressed
	}
	if p.limiter != nil {
		suppressed = p.limiter.Suppressed()
	}
	rs := p.reorder.Stats()
	fmt.Fprintf(w, "scanned %s, %d lines: %d rows, %d events, %d alerts (%d suppressed by rate limits), "+
		"%d bad lines, %d rows rejected, %d rows out of order beyond the reorder window",
		plural(files, "file"), p.sum.lines, rows, events, len(p.seen), suppressed, p.sum.badLines, p.sum.badRows, rs.Late)
	if rs.EarlyRows > 0 {
		fmt.Fprintf(w, ", %d rows released early (reorder buffer full at %d MiB)", rs.EarlyRows, normalize.DefaultMaxBufferedBytes>>20)
	}
	if p.sum.quarantined > 0 {
		fmt.Fprintf(w, ", %d rows quarantined for implausible times (last: %s)", p.sum.quarantined, p.sum.lastQuarantine)
	}
	if n := p.sum.badFiles + p.sum.readFailures; n > 0 {
		fmt.Fprintf(w, ", %s not read to the end", plural(n, "file"))
	}
	fmt.Fprintln(w)
}

// resume continues a scan saved with --state: the alerts printed from the
// rows it held back are not printed again, and those rows go back into the
// reorder window (judged already), which carries on after the seconds the
// saved scan released.
func (p *scanPipeline) resume(st scanState) {
	p.fileBase = st.Files
	for _, id := range st.Printed {
		p.seen[id] = true
	}
	p.reorder.Resume(st.Released)
	for _, r := range st.Held {
		p.reorder.Push(normalize.Row{Table: r.Table, Host: r.Host, Cols: r.Cols, Seq: r.Seq}, p.process)
	}
}
