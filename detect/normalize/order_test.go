package normalize

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// reverseShell returns the three rows of a reverse shell sharing one
// second: exec /tmp/x by pid 300, its connect (socket eid counter is
// independent and lower), then exec /bin/sh by the same pid.
func reverseShell() []Row {
	return []Row{
		execRow("300", "100", "/tmp/x", "/tmp/x 10.0.0.5 4444", "1700000000", "0000000010"),
		socketRow("connect", "300", "/tmp/x", "1700000000", "0000000003", "family=2", "remote_address=10.0.0.5", "remote_port=4444", "status=succeeded"),
		execRow("300", "100", "/bin/sh", "sh -i", "1700000000", "0000000011"),
	}
}

func describe(rows []Row) string {
	var parts []string
	for _, r := range rows {
		tag := "exec"
		if isSocketTable(r.Table) {
			tag = r.Get(ColAction)
		}
		parts = append(parts, tag+":"+r.Get(ColPid)+":"+r.Get(ColPath))
	}
	return strings.Join(parts, " ")
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestOrderSecondReverseShellEveryOrder(t *testing.T) {
	base := reverseShell()
	want := describe(base)
	for _, perm := range permutations(len(base)) {
		rows := make([]Row, len(base))
		for i, j := range perm {
			rows[i] = base[j]
			rows[i].Seq = uint64(i)
		}
		OrderSecond(rows)
		if got := describe(rows); got != want {
			t.Errorf("input order %v: got %s, want %s", perm, got, want)
			continue
		}
		// Normalized in that order, the three events satisfy the
		// reverse-shell sequence: one entity id, parent a shell.
		n := New(Options{})
		seedBash(t, n)
		var evs []*ecs.Event
		for _, r := range rows {
			evs = append(evs, mustNormalize(t, n, r))
		}
		id := str(evs[0], ecs.ProcessEntityID)
		for i, ev := range evs {
			if str(ev, ecs.ProcessEntityID) != id {
				t.Errorf("order %v: event %d entity %q, want %q", perm, i, str(ev, ecs.ProcessEntityID), id)
			}
		}
		if str(evs[1], ecs.ProcessExecutable) != "/tmp/x" || str(evs[1], ecs.DestinationIP) != "10.0.0.5" {
			t.Errorf("order %v: network event wrong", perm)
		}
		if str(evs[2], ecs.ProcessName) != "sh" || str(evs[2], ecs.ParentName) != "bash" || str(evs[0], ecs.ParentName) != "bash" {
			t.Errorf("order %v: parent names %q %q", perm, str(evs[0], ecs.ParentName), str(evs[2], ecs.ParentName))
		}
	}
}

func TestOrderSecondPlacement(t *testing.T) {
	rows := []Row{
		// A socket of a process that existed before this second.
		socketRow("connect", "50", "/usr/bin/ssh", "5", "0000000001"),
		execRow("60", "1", "/usr/bin/curl", "curl x", "5", "0000000021"),
		execRow("60", "1", "/usr/bin/curl", "curl y", "5", "0000000020"),
		// Two sockets of the same exec keep their eid order.
		socketRow("connect", "60", "/usr/bin/curl", "5", "0000000003"),
		socketRow("connect", "60", "/usr/bin/curl", "5", "0000000002"),
		// A socket whose path matches no exec in this second.
		socketRow("bind", "60", "/usr/bin/wget", "5", "0000000004"),
		// A fork starts the child's image: its socket goes after it.
		{Table: TableProcessEvents, Host: host, Cols: cols("syscall=fork", "pid=70", "parent=60", "path=/usr/bin/curl", "time=5", "eid=0000000022")},
		socketRow("connect", "70", "/usr/bin/curl", "5", "0000000005"),
	}
	for i := range rows {
		rows[i].Seq = uint64(100 - i)
	}
	OrderSecond(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.Table[:4]+":"+r.Get(ColEID)[8:])
	}
	want := "sock:01 sock:04 proc:20 proc:21 sock:02 sock:03 proc:22 sock:05"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestOrderSecondFallsBackToSeq(t *testing.T) {
	rows := []Row{
		{Table: TableProcessEvents, Seq: 3, Cols: cols("pid=1", "path=/a")},
		{Table: TableProcessEvents, Seq: 1, Cols: cols("pid=2", "path=/b", "eid=9")},
		{Table: TableProcessEvents, Seq: 2, Cols: cols("pid=3", "path=/c", "eid=1")},
	}
	OrderSecond(rows)
	if rows[0].Seq != 1 || rows[1].Seq != 2 || rows[2].Seq != 3 {
		t.Errorf("rows with a missing eid must sort by Seq, got %d %d %d", rows[0].Seq, rows[1].Seq, rows[2].Seq)
	}
}

func TestReordererAcrossOutOfOrderBlocks(t *testing.T) {
	// A results log lists the socket_events query's block before the
	// process_events block, and the next block holds a second that
	// straddles both.
	shell := reverseShell()
	block1 := []Row{
		socketRow("connect", "300", "/tmp/x", "1700000000", "0000000003", "family=2", "remote_address=10.0.0.5", "remote_port=4444"),
		socketRow("connect", "400", "/usr/bin/curl", "1699999999", "0000000002", "family=2", "remote_address=1.1.1.1", "remote_port=443"),
	}
	block2 := []Row{
		execRow("400", "100", "/usr/bin/curl", "curl", "1699999999", "0000000009"),
		shell[0],
		shell[2],
		execRow("500", "100", "/usr/bin/ls", "ls", "1700000001", "0000000012"),
	}
	o := NewReorderer(time.Second, 1<<20)
	var out []Row
	emit := func(r Row) { out = append(out, r.Clone()) }
	seq := uint64(0)
	for _, r := range append(block1, block2...) {
		r.Seq = seq
		seq++
		o.Push(r, emit)
	}
	// Second 1699999999 is more than the window older than the newest
	// (1700000001): already out; the rest waits for Flush.
	if got := describe(out); got != "exec:400:/usr/bin/curl connect:400:/usr/bin/curl" {
		t.Errorf("released before Flush: %s", got)
	}
	o.Flush(emit)
	got := describe(out)
	want := "exec:400:/usr/bin/curl connect:400:/usr/bin/curl exec:300:/tmp/x connect:300:/tmp/x exec:300:/bin/sh exec:500:/usr/bin/ls"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if st := o.Stats(); st.Late != 0 || st.Early != 0 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestReordererReleasesLateAndEarly(t *testing.T) {
	row := func(tm, eid string) Row {
		return Row{Table: TableProcessEvents, Host: host, Cols: cols("time="+tm, "eid="+eid, "pid=1", "path=/x")}
	}
	// The bound: what three rows of one second take.
	probe := NewReorderer(0, 1<<20)
	for _, eid := range []string{"5", "6", "7"} {
		probe.Push(row("11", eid), func(Row) {})
	}
	o := NewReorderer(0, probe.Stats().BufferedBytes)
	var out []string
	emit := func(r Row) { out = append(out, r.Get(ColTime)+"/"+r.Get(ColEID)) }
	push := func(tm, eid string) { o.Push(row(tm, eid), emit) }
	push("10", "1")
	push("10", "2")
	if len(out) != 0 {
		t.Fatalf("newest second released early: %v", out)
	}
	push("11", "3") // second 10 is now older than the newest: released
	if fmt.Sprint(out) != "[10/1 10/2]" {
		t.Fatalf("after a newer second: %v", out)
	}
	push("10", "4") // late: emitted at once
	if fmt.Sprint(out) != "[10/1 10/2 10/4]" || o.Stats().Late != 1 {
		t.Fatalf("late row: %v, stats %+v", out, o.Stats())
	}
	// More rows of second 11 until its buffer outgrows the bound: the
	// second is released early, whole, and the bound holds after every push.
	pushed := 1
	for eid := 5; o.Stats().Early == 0 && eid < 50; eid++ {
		push("11", strconv.Itoa(eid))
		pushed++
		if b := o.Stats().BufferedBytes; b > probe.Stats().BufferedBytes {
			t.Fatalf("buffers take %d bytes, bound %d", b, probe.Stats().BufferedBytes)
		}
	}
	if st := o.Stats(); st.Early != 1 || st.EarlyRows != uint64(pushed) || len(out) != 3+pushed || st.Buffered != 0 {
		t.Fatalf("buffer bound: out %v stats %+v", out, o.Stats())
	}
	n := len(out)
	o.Push(Row{Table: TableProcessEvents, Cols: cols("time=x")}, emit)
	if o.Stats().Untimed != 1 || len(out) != n+1 {
		t.Errorf("untimed row: out %v stats %+v", out, o.Stats())
	}
	o.Flush(emit)
	if o.Stats().Buffered != 0 {
		t.Errorf("flush left %d rows", o.Stats().Buffered)
	}
}

func TestReordererGroupsHosts(t *testing.T) {
	o := NewReorderer(0, 1<<20)
	var out []string
	emit := func(r Row) { out = append(out, r.Host+"/"+r.Get(ColEID)) }
	for i, h := range []string{"b", "a", "b", "a"} {
		o.Push(Row{Table: TableProcessEvents, Host: h, Seq: uint64(i), Cols: cols("time=7", fmt.Sprintf("eid=%d", 10-i), "pid=1", "path=/x")}, emit)
	}
	o.Flush(emit)
	if fmt.Sprint(out) != "[a/7 a/9 b/8 b/10]" {
		t.Errorf("got %v", out)
	}
}

// SetWarm's function sees each host's second, whole, right before its
// rows are emitted.
func TestReordererWarmsEachHostSecond(t *testing.T) {
	o := NewReorderer(0, 1<<20)
	defer o.Close()
	var log []string
	o.SetWarm(func(rows []Row) {
		var eids []string
		for _, r := range rows {
			eids = append(eids, r.Host+"/"+r.Get(ColEID))
		}
		log = append(log, "warm "+strings.Join(eids, ","))
	})
	emit := func(r Row) { log = append(log, r.Host+"/"+r.Get(ColEID)) }
	for i, h := range []string{"b", "a", "b", "a"} {
		o.Push(Row{Table: TableProcessEvents, Host: h, Seq: uint64(i), Cols: cols("time=7", fmt.Sprintf("eid=%d", 10-i), "pid=1", "path=/x")}, emit)
	}
	o.Flush(emit)
	want := "[warm a/7,a/9 a/7 a/9 warm b/8,b/10 b/8 b/10]"
	if fmt.Sprint(log) != want {
		t.Errorf("got %v, want %s", log, want)
	}
}

// TestRowCodecRoundTrip: a row encoded into a Reorderer's buffer comes
// back with every column, slotted or not, and the same table, host and Seq.
func TestRowCodecRoundTrip(t *testing.T) {
	tests := []Row{
		{Table: TableProcessEvents, Host: "h1", Seq: 1 << 41, Cols: cols("pid=1", "path=/bin/sh", "cmdline=sh -c 'a b'", "mode=0100755", "time=1700000000", "empty=")},
		{Table: "some_table", Host: "h2", Seq: 0, Cols: map[string]string{}},
		{Table: TableSocketEvents, Host: "h3", Seq: 7, Cols: cols("remote_address=::1", "weird\x00name=v\xffalue", "uptime=1")},
	}
	for _, r := range tests {
		b := encodeRow(nil, &r)
		got := decodeRows([][]byte{b}, 1, r.Host)[0]
		if got.Table != r.Table || got.Host != r.Host || got.Seq != r.Seq || got.Fields == nil {
			t.Fatalf("round trip of %+v gave %+v", r, got)
		}
		if m := got.ColMap(); fmt.Sprint(m) != fmt.Sprint(r.Cols) {
			t.Errorf("columns %v, want %v", m, r.Cols)
		}
		for name, want := range r.Cols {
			if v, ok := got.LookupName(name); !ok || v != want {
				t.Errorf("LookupName(%q) = %q %v, want %q", name, v, ok, want)
			}
		}
		if _, ok := got.LookupName("absent"); ok {
			t.Error("LookupName found an absent column")
		}
		for c := Col(1); c < numCols; c++ {
			v1, ok1 := r.Lookup(c)
			v2, ok2 := got.Lookup(c)
			if v1 != v2 || ok1 != ok2 {
				t.Errorf("%s: %q %v, want %q %v", c.Name(), v2, ok2, v1, ok1)
			}
		}
	}
}

// TestFieldsSetTwice: a name set twice keeps its last value, once, as a
// map would, whether it has a slot or not.
func TestFieldsSetTwice(t *testing.T) {
	var f Fields
	for _, kv := range [][2]string{{"pid", "1"}, {"mode", "a"}, {"uptime", "5"}, {"pid", "2"}, {"mode", "b"}, {"path", "/x"}} {
		f.Set(kv[0], kv[1])
	}
	want := map[string]string{"pid": "2", "mode": "b", "uptime": "5", "path": "/x"}
	if got := f.Map(); fmt.Sprint(got) != fmt.Sprint(want) || f.Len() != 4 {
		t.Fatalf("got %v (len %d), want %v", got, f.Len(), want)
	}
	r := Row{Table: TableProcessEvents, Host: "h", Fields: &f}
	back := decodeRows([][]byte{encodeRow(nil, &r)}, 1, "h")[0]
	if got := back.ColMap(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the reorder buffer: %v, want %v", got, want)
	}
}

// TestRowBatch: rows added to a batch come back in order, whole.
func TestRowBatch(t *testing.T) {
	var f Fields
	f.Set("pid", "7")
	f.Set("mode", "0755")
	f.Set("time", "1700000000")
	timed := ViewFields([]byte("1700000009"), 1) // a view, as the extension decodes
	timed[0].SetView(ColTime, 0, 10)
	in := []Row{
		{Table: TableProcessEvents, Host: "h1", Seq: 3, Cols: cols("pid=1", "path=/bin/sh", "uptime=5", "time=1700000001")},
		{Table: TableSocketEvents, Host: "h2", Seq: 1 << 45, Fields: &f},
		{Table: "x", Host: "", Seq: 0, Cols: map[string]string{}},
		{Table: TableProcessEvents, Host: "h3", Seq: 4, Fields: &timed[0]},
	}
	var b RowBatch
	for _, r := range in {
		b.Add(r)
	}
	i := 0
	b.Each(func(br BatchRow) {
		w := in[i]
		r := br.Row()
		if r.Table != w.Table || r.Host != w.Host || br.Host != w.Host || r.Seq != w.Seq || fmt.Sprint(r.ColMap()) != fmt.Sprint(w.ColMap()) {
			t.Errorf("row %d: %+v %v, want %+v %v", i, r, r.ColMap(), w, w.ColMap())
		}
		if br.Time != w.Get(ColTime) {
			t.Errorf("row %d: time %q, want %q", i, br.Time, w.Get(ColTime))
		}
		i++
	})
	if i != len(in) || b.Len() != len(in) {
		t.Errorf("%d rows back, Len %d, want %d", i, b.Len(), len(in))
	}
}

// TestDecodeRowsShareBlocks: rows decoded together share blocks of at most
// decodeBlock bytes, yet a column set on one row (an append to its
// buffer) never writes over the next row's, and a row larger than a block
// gets one of its own.
func TestDecodeRowsShareBlocks(t *testing.T) {
	big := strings.Repeat("x", decodeBlock+10)
	var in []Row
	for i := range 300 {
		cmd := fmt.Sprintf("cmd %d %s", i, strings.Repeat("a", 400))
		if i == 150 {
			cmd = big
		}
		in = append(in, Row{Table: TableProcessEvents, Host: "h", Seq: uint64(i), Cols: cols(fmt.Sprintf("pid=%d", i), "cmdline="+cmd)})
	}
	var chunks [][]byte
	for i := range in {
		chunks = append(chunks, encodeRow(nil, &in[i]))
	}
	got := decodeRows(chunks, len(in), "h")
	for i := range got {
		got[i].Fields.SetCol(ColCwd, strings.Repeat("/tmp", 50))
		got[i].Fields.SetOther("extra", "y")
	}
	for i, r := range got {
		for _, name := range []string{"pid", "cmdline"} {
			if v, _ := r.LookupName(name); v != in[i].Cols[name] {
				t.Fatalf("row %d: %s = %.40q, want %.40q", i, name, v, in[i].Cols[name])
			}
		}
		if cap(r.Fields.b) > decodeBlock && i != 150 {
			t.Errorf("row %d: a block of %d bytes", i, cap(r.Fields.b))
		}
	}
}

// TestPushEncodedMatchesPush: rows handed over encoded in a RowBatch
// (scan with several CPUs) come out of the window exactly as the same rows
// pushed decoded do, late, untimed and early-released rows included.
func TestPushEncodedMatchesPush(t *testing.T) {
	var rows []Row
	for i := 0; i < 400; i++ {
		tm := strconv.Itoa(100 + i/7 - (i%11)/5) // out of order within a few seconds
		switch {
		case i%97 == 0:
			tm = "not a time"
		case i%89 == 0:
			tm = "90" // late once second 90 is out
		}
		rows = append(rows, Row{Table: TableProcessEvents, Host: fmt.Sprintf("h%d", i%3), Seq: uint64(i),
			Cols: cols("time="+tm, fmt.Sprintf("eid=%d", 1000-i), fmt.Sprintf("pid=%d", i), "path=/bin/x", "cmdline="+strings.Repeat("a", i))})
	}
	run := func(encoded bool) ([]string, ReorderStats) {
		o := NewReorderer(2*time.Second, 16<<10) // small: seconds are released early
		defer o.Close()
		var out []string
		emit := func(r Row) { out = append(out, fmt.Sprint(r.Host, r.Seq, r.ColMap())) }
		var b RowBatch
		for _, r := range rows {
			if !encoded {
				o.Push(r, emit)
				continue
			}
			b.Reset()
			b.Add(r)
			b.Each(func(br BatchRow) { o.PushEncoded(br, emit) })
		}
		o.Flush(emit)
		return out, o.Stats()
	}
	want, wantStats := run(false)
	got, gotStats := run(true)
	if wantStats.Late == 0 || wantStats.Untimed == 0 || wantStats.Early == 0 {
		t.Fatalf("the input should have late, untimed and early-released rows: %+v", wantStats)
	}
	if gotStats != wantStats {
		t.Errorf("stats encoded %+v, decoded %+v", gotStats, wantStats)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("encoded rows came out differently:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReordererReusesItsBuffers: a window that releases seconds as fast as
// they come reuses their buffers: its pool maps no more than its bound
// however many rows pass.
func TestReordererReusesItsBuffers(t *testing.T) {
	const bound = 256 << 10
	o := NewReorderer(time.Second, bound)
	defer o.Close()
	n := 0
	for i := 0; i < 20000; i++ {
		o.Push(Row{Table: TableProcessEvents, Host: fmt.Sprintf("h%d", i%5), Seq: uint64(i),
			Cols: cols("time="+strconv.Itoa(i/50), "pid=1", "path=/usr/bin/something", "cmdline=something --with arguments")}, func(Row) { n++ })
	}
	o.Flush(func(Row) { n++ })
	if n != 20000 {
		t.Fatalf("%d rows out, want 20000", n)
	}
	if m := o.pool.Mapped(); m > bound+bound/4+4<<20 {
		t.Errorf("the pool mapped %d bytes for a %d-byte window", m, bound)
	}
	if m := o.pool.Mapped(); m == 0 {
		t.Error("the window's buffers should come from the pool")
	}
}
