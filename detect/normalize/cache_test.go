package normalize

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestProcImageRoundTrip(t *testing.T) {
	long := strings.Repeat("9", maxIDLen+5)
	tests := []struct {
		name string
		in   image
		want image
	}{
		{"exec", image{exe: "/usr/bin/curl", cmdline: "curl -s x", cwd: "/root", uid: "0", gid: "1", euid: "2", egid: "3"},
			image{exe: "/usr/bin/curl", cmdline: "curl -s x", cwd: "/root", uid: "0", gid: "1", euid: "2", egid: "3"}},
		{"a name is kept only without an executable", image{exe: "/bin/sh", name: "other"}, image{exe: "/bin/sh"}},
		{"kernel thread", image{name: "kthreadd"}, image{name: "kthreadd"}},
		{"empty", image{}, image{}},
		{"an overlong id is cut", image{uid: long}, image{uid: long[:maxIDLen]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proc{ppid: 7, entity: 42}
			p.setImage(image{exe: "/old", cmdline: "old"})
			p.setImage(tt.in)
			if got := p.image(); got != tt.want {
				t.Fatalf("image %+v, want %+v", got, tt.want)
			}
			if p.ppid != 7 || p.entity != 42 {
				t.Fatalf("setImage changed the identity: %+v", p)
			}
			if tt.want.exe != "" && p.name() != baseName(tt.want.exe) {
				t.Fatalf("name %q", p.name())
			}
		})
	}
}

// The cache keeps copies of its own: never a string of the row, which
// may share its memory with a whole batch of rows.
func TestProcCacheCopiesRowStrings(t *testing.T) {
	buf := []byte("/usr/bin/curlcurl -s https://example.com/")
	exe := unsafe.String(&buf[0], 13)
	cmd := unsafe.String(&buf[13], len(buf)-13)
	p := &proc{}
	p.setImage(image{exe: exe, cmdline: cmd})
	start := uintptr(unsafe.Pointer(unsafe.StringData(p.img)))
	if lo, hi := uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&buf[len(buf)-1])); start >= lo && start <= hi {
		t.Fatal("the cache kept the row's memory")
	}
	if p.exe() != "/usr/bin/curl" || p.cmdline() != "curl -s https://example.com/" {
		t.Fatalf("image %+v", p.image())
	}
}

// The journal's binary slots hold the cache's entries exactly, through
// churn (evictions, reused slots, forks) and awkward text; a whole-state
// save writes JSON, the bytes json.Marshal writes for the same slots.
func TestJournalSlotsAreJSON(t *testing.T) {
	odd := []string{"", "a<b>&c", "tab\there", "quote\"back\\slash", "nul\x00ctl\x1f\x7f", "bad\xffutf8\xc3",
		"line\u2028para\u2029", "naïve 日本", "\b\f\n\r"}
	rows := churnRows(0, 300)
	for i, s := range odd {
		rows = append(rows, execRow(strconv.Itoa(500+i), "1", "/usr/bin/"+s, s+" --arg="+s, "1700001000", strconv.Itoa(1000+i)))
	}
	reflective := func(n *Normalizer, i int32) []byte {
		p := n.cache.at(i)
		b, err := json.Marshal(slotEntry{snapshotProc: snapProc(p), LastUse: p.lastUse, Referenced: p.referenced})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n := New(Options{MaxProcesses: 16})
	for i, r := range rows {
		eventJSON(t, n, r)
		if i%7 != 0 && i != len(rows)-1 {
			continue
		}
		j, err := n.TakeProcessJournal()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range j.Slots {
			got, err := decodeSlotBinary(s.Data)
			if err != nil {
				t.Fatalf("row %d, slot %d: %v", i, s.Slot, err)
			}
			// The cache's own entry, byte for byte (JSON would have
			// replaced invalid UTF-8).
			p := n.cache.at(s.Slot)
			want := decodedSlot{host: p.key.host, pid: p.key.pid, ppid: p.ppid, start: p.start,
				entity: p.entity, parentEntity: p.parentEntity, lastUse: p.lastUse, referenced: p.referenced,
				image: p.image()}
			if got != want {
				t.Fatalf("row %d, slot %d:\n got %+v\nwant %+v", i, s.Slot, got, want)
			}
		}
		_, all, err := n.AllProcessSlots()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if want := reflective(n, s.Slot); !bytes.Equal(s.Data, want) {
				t.Fatalf("row %d, whole state, slot %d:\n got %s\nwant %s", i, s.Slot, s.Data, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\x00\x1f\"\\", "\xff\xfe", "\u2028\u2029", "é日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// TestEvictionJournalsFewSlots: once the cache is full of processes seen
// once, making room for the next costs the journal the evicted slot and
// the few the clock hand passed, not every slot the hand cleared on a
// pass over a cache of new (and so marked) entries.
func TestEvictionJournalsFewSlots(t *testing.T) {
	const size = 1000
	c := newProcCache(size)
	for pid := int64(1); pid <= size; pid++ {
		c.put("h", pid)
	}
	if used := c.get("h", 7); used == nil { // one entry used since it came in
		t.Fatal("pid 7 not cached")
	}
	c.dirty.take()
	for pid := int64(size + 1); pid <= size+20; pid++ {
		c.put("h", pid)
		slots, _ := c.dirty.take()
		if len(slots) > 2 {
			t.Fatalf("putting pid %d journaled %d slots", pid, len(slots))
		}
	}
	if c.peek("h", 7) == nil {
		t.Error("the entry used since it came in was evicted before the others")
	}
}
