package normalize

import (
	"maps"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

var fuzzTables = []string{TableProcessEvents, TableSocketEvents, TableBPFProcessEvents, TableBPFSocketEvents, TableProcesses, "", "users"}

// FuzzNormalize feeds arbitrary column values through every table shape.
// The normalizer must never panic, must reject with a *RowError or map the
// row, and a mapped event must carry its identity fields and keep its
// shape's promise.
func FuzzNormalize(f *testing.F) {
	f.Add(uint8(0), "execve", "300", "100", "1700000000", "/tmp/x", "/tmp/x a b", "", "", "0000000001")
	f.Add(uint8(0), "fork", "301", "300", "1700000000", "/tmp/x", "", "", "", "0000000002")
	f.Add(uint8(1), "connect", "300", "", "1700000000", "/tmp/x", "", "2001:0db8:0000:0000:0000:0000:0000:0001", "10", "")
	f.Add(uint8(3), "accept", "-1", "x", "-5", "", "  ", "::ffff:1.2.3.4", "2", "9")
	f.Add(uint8(4), "", "1", "0", "", "/sbin/init", "/sbin/init ", "", "", "")
	f.Fuzz(func(t *testing.T, tbl uint8, verb, pid, parent, tm, path, cmdline, remote, family, eid string) {
		n := New(Options{MaxProcesses: 4})
		table := fuzzTables[int(tbl)%len(fuzzTables)]
		c := map[string]string{
			"syscall": verb, "action": verb, "pid": pid, "parent": parent, "time": tm, "path": path,
			"cmdline": cmdline, "remote_address": remote, "local_address": remote, "family": family, "eid": eid,
			"remote_port": parent, "local_port": pid, "status": verb, "exit_code": parent,
		}
		for i := 0; i < 3; i++ { // repeat: the second pass hits the cache
			var ev ecs.Event
			err := n.Normalize(Row{Table: table, Host: "h", Cols: c, Seq: uint64(i)}, &ev)
			if err != nil {
				if _, ok := err.(*RowError); !ok && err != ErrStateOnly {
					t.Fatalf("error of type %T: %v", err, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("multi-line error: %q", err.Error())
				}
				continue
			}
			if ev.Get(ecs.EventID).Str == "" || ev.Get(ecs.HostID).Str != "h" || ev.Get(ecs.ProcessEntityID).Str == "" {
				t.Fatalf("event without identity: %v", ev.Len())
			}
			if msg := shapeViolation(&ev); msg != "" {
				t.Fatal(msg)
			}
			if _, err := ev.MarshalJSON(); err != nil {
				t.Fatal(err)
			}
		}
		if n.Stats().CacheSize > 4 {
			t.Fatalf("cache exceeded its bound: %d", n.Stats().CacheSize)
		}
		snap, err := n.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := New(Options{}).Restore(snap); err != nil {
			t.Fatalf("restoring own snapshot: %v", err)
		}
	})
}

// FuzzRestore: arbitrary bytes must never panic Restore.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"v":1,"procs":[{"h":"a","p":1,"pp":-1,"e":"x","c":"a b"}]}`))
	f.Add([]byte(`{"v":1,"procs":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := New(Options{MaxProcesses: 2})
		if err := n.Restore(data); err != nil {
			return
		}
		if n.Stats().CacheSize > 2 {
			t.Fatalf("restore exceeded the bound")
		}
		var ev ecs.Event
		_ = n.Normalize(Row{Table: TableProcessEvents, Host: "a", Cols: map[string]string{"pid": "1", "parent": "0", "time": "1", "path": "/x"}}, &ev)
	})
}

// FuzzOrderSecond: any mix of rows keeps every row exactly once.
func FuzzOrderSecond(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{255, 0, 17, 42, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		var rows []Row
		for i, b := range data {
			table := TableProcessEvents
			if b&1 == 1 {
				table = TableSocketEvents
			}
			c := map[string]string{"pid": string(rune('0' + b>>6)), "path": string(rune('a' + (b>>4)&3)), "syscall": []string{"execve", "fork", "kill", ""}[(b>>2)&3]}
			if b&2 == 0 {
				c["eid"] = string(rune('0' + b%10))
			}
			rows = append(rows, Row{Table: table, Seq: uint64(i), Cols: c})
		}
		OrderSecond(rows)
		seen := map[uint64]bool{}
		for _, r := range rows {
			if seen[r.Seq] {
				t.Fatalf("row %d twice", r.Seq)
			}
			seen[r.Seq] = true
		}
		if len(seen) != len(data) {
			t.Fatalf("lost rows: %d of %d", len(seen), len(data))
		}
	})
}

// FuzzRowCodec: any columns set into Fields (names with a slot or not,
// given twice or not) come back the same through the reorder buffer's
// encoding and a RowBatch, as the map a JSON object would give.
func FuzzRowCodec(f *testing.F) {
	f.Add("pid\x001\x00mode\x00a\x00pid\x002\x00\x00empty", uint64(7))
	f.Fuzz(func(t *testing.T, spec string, seq uint64) {
		parts := strings.Split(spec, "\x00")
		var fl Fields
		want := map[string]string{}
		for i := 0; i+1 < len(parts); i += 2 {
			fl.Set(parts[i], parts[i+1])
			want[parts[i]] = parts[i+1]
		}
		if got := fl.Map(); !maps.Equal(got, want) || fl.Len() != len(want) {
			t.Fatalf("Fields %v (len %d), want %v", got, fl.Len(), want)
		}
		r := Row{Table: TableProcessEvents, Host: "h", Seq: seq, Fields: &fl}
		back := decodeRows([][]byte{encodeRow(nil, &r)}, 1, "h")[0]
		if !maps.Equal(back.ColMap(), want) || back.Seq != seq {
			t.Fatalf("decoded %v seq %d, want %v seq %d", back.ColMap(), back.Seq, want, seq)
		}
		var b RowBatch
		b.Add(r)
		b.Each(func(br BatchRow) {
			got := br.Row()
			if !maps.Equal(got.ColMap(), want) || got.Seq != seq || got.Host != "h" || br.Time != want["time"] {
				t.Fatalf("batch gave %v (time %q), want %v", got.ColMap(), br.Time, want)
			}
		})
	})
}
