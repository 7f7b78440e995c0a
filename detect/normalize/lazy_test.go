package normalize

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// TestReadingADeferredFieldFillsItsBlock: reading a field left out fills in
// the block it belongs to and no other; the event, completed, equals the
// eagerly normalized one whichever field was read first.
func TestReadingADeferredFieldFillsItsBlock(t *testing.T) {
	rows := shapeAndGoldenRows(t)
	for _, bf := range blockFields {
		for _, first := range bf.fields {
			eager, lazy := New(Options{}), New(Options{Reads: []string{}})
			var left, kept ecs.Event
			filled := 0
			for i, r := range rows {
				left.Reset()
				kept.Reset()
				errEager := eager.Normalize(r, &left)
				errLazy := lazy.Normalize(r, &kept)
				if (errEager == nil) != (errLazy == nil) {
					t.Fatalf("row %d: eager error %v, deferring error %v", i, errEager, errLazy)
				}
				if errEager != nil {
					continue
				}
				before := lazy.pend.blocks
				got, want := kept.Get(first), left.Get(first)
				if !sameValue(got, want) {
					t.Fatalf("%s, row %d: read %v, eager %v", first.Name(), i, got, want)
				}
				if before&bf.b != 0 {
					filled++
					if after := lazy.pend.blocks; after != before&^bf.b {
						t.Fatalf("%s, row %d: pending blocks %b after the read, want %b", first.Name(), i, after, before&^bf.b)
					}
				}
				wantJSON, _ := left.MarshalJSON()
				gotJSON, _ := kept.MarshalJSON() // completes the rest
				if string(gotJSON) != string(wantJSON) {
					t.Fatalf("%s, row %d (%s):\ncompleted %s\neager     %s", first.Name(), i, r.Table, gotJSON, wantJSON)
				}
			}
			if filled == 0 {
				t.Errorf("%s: no read filled its block in", first.Name())
			}
		}
	}
}

// TestDeferredStateDoesNotOutliveItsRow: what a completed row left pending
// never fills in a later row's event: a socket row, which has no previous
// executable, gets none from the exec row before it.
func TestDeferredStateDoesNotOutliveItsRow(t *testing.T) {
	n := New(Options{Reads: []string{}})
	exec := func(path string) Row {
		return Row{Table: "process_events", Host: "h", Cols: map[string]string{
			"pid": "42", "parent": "1", "path": path, "cmdline": path, "cwd": "/", "uid": "0", "euid": "0",
			"gid": "0", "egid": "0", "time": "1763800000", "syscall": "execve"}}
	}
	sock := Row{Table: "socket_events", Host: "h", Cols: map[string]string{
		"pid": "42", "path": "/bin/sh", "action": "connect", "family": "2", "remote_address": "203.0.113.7",
		"remote_port": "443", "time": "1763800000", "status": "succeeded"}}
	var ev ecs.Event
	for i, r := range []Row{exec("/tmp/x"), exec("/bin/sh"), sock} {
		ev.Reset()
		if err := n.Normalize(r, &ev); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		ev.Complete()
		prev := ev.Get(ecs.ProcessPreviousExe)
		switch {
		case i == 1 && prev.Str != "/tmp/x":
			t.Fatalf("exec row: process.previous.executable = %v, want /tmp/x", prev)
		case i == 2 && prev.Kind != ecs.Missing:
			t.Fatalf("socket row: process.previous.executable = %v, want none", prev)
		}
	}
}
