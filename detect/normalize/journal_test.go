package normalize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// storedSlots plays the store: it applies journals as a commit would.
type storedSlots struct {
	clock []byte
	slots map[int32][]byte
}

func (s *storedSlots) apply(j ProcessJournal) {
	if j.Reset || s.slots == nil {
		s.slots = map[int32][]byte{}
	}
	for _, sl := range j.Slots {
		s.slots[sl.Slot] = slices.Clone(sl.Data) // valid only until the next journal
	}
	s.clock = j.Clock
}

func (s *storedSlots) list() []ProcessSlot {
	out := make([]ProcessSlot, 0, len(s.slots))
	for i, d := range s.slots {
		out = append(out, ProcessSlot{Slot: i, Data: d})
	}
	return out
}

// churnRows execs and forks over more pids than the cache holds, so that
// entries are evicted and slots reused.
func churnRows(from, to int) []Row {
	var rows []Row
	for i := from; i < to; i++ {
		pid := strconv.Itoa(100 + i%37)
		parent := strconv.Itoa(100 + (i*7)%37)
		t := strconv.Itoa(1700000000 + i)
		if i%3 == 0 {
			rows = append(rows, Row{Table: TableProcessEvents, Host: host, Cols: cols(
				"syscall=fork", "pid="+pid, "parent="+parent, "time="+t, "eid="+strconv.Itoa(i))})
			continue
		}
		rows = append(rows, execRow(pid, parent, "/usr/bin/p"+strconv.Itoa(i%11), "p"+strconv.Itoa(i%11)+" -x", t, strconv.Itoa(i)))
	}
	return rows
}

func eventJSON(t testing.TB, n *Normalizer, r Row) string {
	t.Helper()
	ev := &ecs.Event{}
	if err := n.Normalize(r, ev); err != nil {
		return "error: " + err.Error()
	}
	ev.Complete()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A cache restored from its journals is the cache that ran: the same
// entries in the same slots with the same clock, so it evicts the same
// entries and normalizes the next rows the same way.
func TestJournalRestoresTheCacheExactly(t *testing.T) {
	for _, split := range []int{1, 17, 40, 99, 150} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			running := New(Options{MaxProcesses: 16})
			var st storedSlots
			rows := churnRows(0, 200)
			for i, r := range rows[:split] {
				eventJSON(t, running, r)
				if i%5 == 0 {
					j, err := running.TakeProcessJournal()
					if err != nil {
						t.Fatal(err)
					}
					st.apply(j)
				}
			}
			j, err := running.TakeProcessJournal()
			if err != nil {
				t.Fatal(err)
			}
			st.apply(j)

			restarted := New(Options{MaxProcesses: 16})
			if err := restarted.RestoreProcessSlots(st.clock, st.list()); err != nil {
				t.Fatal(err)
			}
			wantClock, wantSlots, _ := running.AllProcessSlots()
			gotClock, gotSlots, _ := restarted.AllProcessSlots()
			if !bytes.Equal(wantClock, gotClock) || len(wantSlots) != len(gotSlots) {
				t.Fatalf("clock %s, want %s; %d slots, want %d", gotClock, wantClock, len(gotSlots), len(wantSlots))
			}
			for i := range wantSlots {
				if !bytes.Equal(wantSlots[i].Data, gotSlots[i].Data) {
					t.Fatalf("slot %d:\n got %s\nwant %s", i, gotSlots[i].Data, wantSlots[i].Data)
				}
			}
			if j, _ := restarted.TakeProcessJournal(); !j.Empty() {
				t.Errorf("a restored cache journals %d slots before any row", len(j.Slots))
			}
			for _, r := range rows[split:] {
				if got, want := eventJSON(t, restarted, r), eventJSON(t, running, r); got != want {
					t.Fatalf("row %v after restore:\n got %s\nwant %s", r.Cols, got, want)
				}
			}
		})
	}
}

// Slots stored as JSON by earlier versions still load, alone or beside
// binary ones, into the same cache; the next journal writes them again in
// the binary encoding, and nothing else.
func TestRestoreReadsJSONSlots(t *testing.T) {
	running := New(Options{MaxProcesses: 16})
	for _, r := range churnRows(0, 120) {
		eventJSON(t, running, r)
	}
	j, err := running.TakeProcessJournal()
	if err != nil {
		t.Fatal(err)
	}
	clock, whole, err := running.AllProcessSlots() // JSON, as earlier versions journaled
	if err != nil {
		t.Fatal(err)
	}
	binary := map[int32][]byte{}
	for _, s := range j.Slots {
		binary[s.Slot] = s.Data
	}
	for _, mix := range []string{"json", "mixed"} {
		t.Run(mix, func(t *testing.T) {
			stored := make([]ProcessSlot, len(whole))
			wantConverted := 0
			for i, s := range whole {
				stored[i] = s
				if mix == "mixed" && i%2 == 0 {
					stored[i].Data = binary[s.Slot]
					continue
				}
				wantConverted++
			}
			restarted := New(Options{MaxProcesses: 16})
			if err := restarted.RestoreProcessSlots(clock, stored); err != nil {
				t.Fatal(err)
			}
			_, got, _ := restarted.AllProcessSlots()
			for i := range whole {
				if !bytes.Equal(got[i].Data, whole[i].Data) {
					t.Fatalf("slot %d:\n got %s\nwant %s", i, got[i].Data, whole[i].Data)
				}
			}
			conv, err := restarted.TakeProcessJournal()
			if err != nil {
				t.Fatal(err)
			}
			if len(conv.Slots) != wantConverted {
				t.Fatalf("the journal after a restore rewrites %d slots, want the %d stored as JSON", len(conv.Slots), wantConverted)
			}
			for _, s := range conv.Slots {
				if !bytes.Equal(s.Data, binary[s.Slot]) {
					t.Fatalf("slot %d rewritten as %x, want %x", s.Slot, s.Data, binary[s.Slot])
				}
			}
			// It runs on as the cache restored from binary slots only.
			ref := New(Options{MaxProcesses: 16})
			if err := ref.RestoreProcessSlots(clock, j.Slots); err != nil {
				t.Fatal(err)
			}
			for _, r := range churnRows(120, 160) {
				if got, want := eventJSON(t, restarted, r), eventJSON(t, ref, r); got != want {
					t.Fatalf("row %v after restore:\n got %s\nwant %s", r.Cols, got, want)
				}
			}
		})
	}
}

// A journal holds what changed, not the cache: one row touches a few
// slots however many the cache holds.
func TestJournalFollowsWhatChanged(t *testing.T) {
	n := New(Options{MaxProcesses: 10000})
	for i := 0; i < 5000; i++ {
		eventJSON(t, n, execRow(strconv.Itoa(10000+i), "1", "/bin/x", "x", "1700000000", strconv.Itoa(i)))
	}
	if j, _ := n.TakeProcessJournal(); len(j.Slots) != 5000 {
		t.Fatalf("first journal has %d slots, want 5000", len(j.Slots))
	}
	eventJSON(t, n, execRow("10007", "10003", "/bin/y", "y", "1700000001", "9999"))
	j, _ := n.TakeProcessJournal()
	if len(j.Slots) == 0 || len(j.Slots) > 3 {
		t.Errorf("one exec journals %d slots, want 1 to 3", len(j.Slots))
	}
}

// A journal of the whole cache does not pin its storage: the journals
// after it, a fraction of its size, let it go, while journals of a steady
// size keep reusing theirs.
func TestJournalLetsGoOfABurstsStorage(t *testing.T) {
	n := New(Options{MaxProcesses: 20000})
	exec := func(from, to int) {
		for i := from; i < to; i++ {
			eventJSON(t, n, execRow(strconv.Itoa(10000+i), "1", "/bin/x", "x -n "+strconv.Itoa(i), "1700000000", strconv.Itoa(i)))
		}
	}
	exec(0, 20000)
	if j, _ := n.TakeProcessJournal(); len(j.Slots) != 20000 {
		t.Fatalf("first journal has %d slots, want 20000", len(j.Slots))
	}
	d := &n.cache.dirty
	if cap(d.buf) < 1<<20 {
		t.Fatalf("a journal of 20000 slots used %d bytes", cap(d.buf))
	}
	for round := range 3 {
		exec(20000+round*10, 20000+round*10+10) // evicts 10, journals 10 to 30 slots
		j, _ := n.TakeProcessJournal()
		if len(j.Slots) < 10 || len(j.Slots) > 30 {
			t.Fatalf("round %d: a journal of %d slots after 10 execs", round, len(j.Slots))
		}
		for _, s := range j.Slots {
			if _, err := decodeSlotBinary(s.Data); err != nil {
				t.Fatalf("round %d: slot %d: %v", round, s.Slot, err)
			}
		}
	}
	for name, size := range map[string]int{"buf": cap(d.buf), "slots": cap(d.slots) * 32,
		"order": cap(d.order) * 4, "list": cap(d.list) * 4} {
		if size > 256<<10 {
			t.Errorf("after small journals the journal's %s keeps %d bytes", name, size)
		}
	}
	// Steady journals reuse their storage.
	exec(20100, 20110)
	n.TakeProcessJournal()
	before := &d.buf[:1][0]
	exec(20110, 20120)
	n.TakeProcessJournal()
	if &d.buf[:1][0] != before {
		t.Error("a journal of the same size did not reuse the last one's buffer")
	}
}

func TestRestoreProcessSlotsRejectsBadState(t *testing.T) {
	n := New(Options{MaxProcesses: 4})
	eventJSON(t, n, execRow("10", "1", "/bin/x", "x", "1700000000", "1"))
	good, _ := n.TakeProcessJournal()
	cases := map[string]struct {
		clock []byte
		slots []ProcessSlot
	}{
		"clock not json":     {[]byte("{"), good.Slots},
		"missing slot":       {good.Clock, nil},
		"slot out of range":  {good.Clock, []ProcessSlot{{Slot: 3, Data: good.Slots[0].Data}}},
		"entry not json":     {good.Clock, []ProcessSlot{{Slot: 0, Data: []byte("x")}}},
		"binary cut short":   {good.Clock, []ProcessSlot{{Slot: 0, Data: good.Slots[0].Data[:len(good.Slots[0].Data)-1]}}},
		"binary too long":    {good.Clock, []ProcessSlot{{Slot: 0, Data: append(slices.Clone(good.Slots[0].Data), 0)}}},
		"used over capacity": {[]byte(`{"v":1,"used":9,"hand":0,"tick":1}`), good.Slots},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := New(Options{MaxProcesses: 4})
			if err := r.RestoreProcessSlots(c.clock, c.slots); err == nil {
				t.Fatal("accepted")
			}
			if r.cache.size() != 0 {
				t.Errorf("cache holds %d entries after a failed restore", r.cache.size())
			}
			if j, _ := r.TakeProcessJournal(); !j.Reset {
				t.Error("a failed restore must clear the stored slots at the next commit")
			}
		})
	}
}

// A stored clock and slots, however damaged, restore a consistent cache or
// fail leaving it empty; never a panic.
func FuzzRestoreProcessSlots(f *testing.F) {
	n := New(Options{MaxProcesses: 8})
	for _, r := range churnRows(0, 20) {
		ev := &ecs.Event{}
		_ = n.Normalize(r, ev)
	}
	clock, slots, err := n.AllProcessSlots()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clock, slots[0].Data, int32(0))
	j, err := n.TakeProcessJournal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clock, j.Slots[0].Data, int32(0))
	f.Add([]byte(`{"v":1,"used":1,"hand":0,"tick":3}`), []byte(`{"h":"x","p":1,"e":"e1","lu":2,"r":true}`), int32(0))
	f.Fuzz(func(t *testing.T, clock, entry []byte, slot int32) {
		r := New(Options{MaxProcesses: 8})
		err := r.RestoreProcessSlots(clock, []ProcessSlot{{Slot: slot, Data: entry}})
		if err != nil {
			if r.cache.size() != 0 {
				t.Fatalf("failed restore left %d entries", r.cache.size())
			}
			return
		}
		// The restored cache works: a row over it normalizes.
		eventJSON(t, r, execRow("5", "1", "/bin/x", "x", "1700000000", "1"))
	})
}

// The binary decoder reads any bytes without a panic, and what it accepts
// is an entry the cache encodes again to bytes that read back the same:
// restoring a slot and journaling it is a fixed point after one round.
func FuzzDecodeSlotBinary(f *testing.F) {
	n := New(Options{MaxProcesses: 8})
	for _, r := range churnRows(0, 20) {
		ev := &ecs.Event{}
		_ = n.Normalize(r, ev)
	}
	eventJSON(f, n, execRow("77", "1", "", "", "1700000000", "99"))
	j, err := n.TakeProcessJournal()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range j.Slots {
		f.Add(s.Data)
	}
	f.Add([]byte{slotBinaryTag})
	f.Add([]byte{slotBinaryTag, 0, 0x80, 0x80, 0x80})
	clock := []byte(`{"v":1,"used":1,"hand":0,"tick":3}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeSlotBinary(data)
		if err != nil {
			return
		}
		r := New(Options{MaxProcesses: 8})
		if err := r.RestoreProcessSlots(clock, []ProcessSlot{{Slot: 0, Data: data}}); err != nil {
			if d.host != "" && d.pid >= 0 && d.entity != 0 {
				t.Fatalf("decoded %+v but the restore failed: %v", d, err)
			}
			return
		}
		once := r.cache.appendSlotBinary(nil, 0)
		again, err := decodeSlotBinary(once)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", once, err)
		}
		r2 := New(Options{MaxProcesses: 8})
		if err := r2.RestoreProcessSlots(clock, []ProcessSlot{{Slot: 0, Data: once}}); err != nil {
			t.Fatalf("re-encoded %+v does not restore: %v", again, err)
		}
		if twice := r2.cache.appendSlotBinary(nil, 0); !bytes.Equal(once, twice) {
			t.Fatalf("encoding not stable:\n%x\n%x", once, twice)
		}
		if again.pid != d.pid || again.host != d.host || again.entity != d.entity || again.lastUse != d.lastUse {
			t.Fatalf("identity changed: %+v, then %+v", d, again)
		}
	})
}
