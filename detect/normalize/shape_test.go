package normalize

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// shapeRows covers every event table and action with every optional column
// filled, and with the columns that decide optional fields varied.
func shapeRows() []Row {
	var rows []Row
	add := func(table string, cols map[string]string) {
		cols["time"] = "1763800000"
		cols["eid"] = strconv.Itoa(len(rows) + 1)
		rows = append(rows, Row{Table: table, Host: "h1", Cols: cols, Seq: uint64(len(rows) + 1)})
	}
	for _, table := range []string{TableProcessEvents, TableBPFProcessEvents} {
		for i, sys := range []string{"execve", "execveat", "exec", "", "fork", "vfork", "clone"} {
			pid := strconv.Itoa(100 + i)
			add(table, map[string]string{"pid": "1", "parent": "0", "path": "/sbin/init", "cmdline": "init", "cwd": "/"})
			add(table, map[string]string{"pid": pid, "parent": "1", "path": "/usr/bin/bash", "cmdline": "bash -c id",
				"cwd": "/root", "uid": "0", "gid": "0", "euid": "0", "egid": "0", "suid": "0", "sgid": "0", "auid": "1000",
				"syscall": sys})
			add(table, map[string]string{"pid": pid, "parent": "1", "path": "/usr/bin/id", "cmdline": "id",
				"uid": "0", "gid": "0", "syscall": sys})
		}
	}
	for _, table := range []string{TableSocketEvents, TableBPFSocketEvents} {
		col := "action"
		if table == TableBPFSocketEvents {
			col = "syscall"
		}
		for _, act := range []string{"connect", "accept", "accept4", "bind", "listen"} {
			for _, fam := range []string{"2", "10", "1", "11", ""} {
				add(table, map[string]string{"pid": "100", "parent": "1", "path": "/usr/bin/bash", col: act,
					"family": fam, "protocol": "6", "remote_address": "203.0.113.7", "remote_port": "443",
					"local_address": "10.0.0.1", "local_port": "5555", "socket": "/run/x.sock", "status": "succeeded",
					"exit_code": "0", "success": "1", "auid": "1000", "uid": "0", "gid": "0", "fd": "3"})
				add(table, map[string]string{"pid": "300", col: act, "family": fam, "protocol": "17",
					"remote_address": "::1", "local_address": "", "status": "failed", "exit_code": "-115"})
			}
		}
	}
	return rows
}

// shapeAndGoldenRows is shapeRows followed by the rows of the golden inputs.
func shapeAndGoldenRows(t *testing.T) []Row {
	rows := shapeRows()
	inputs, _ := filepath.Glob("testdata/*.json")
	for _, in := range inputs {
		for _, r := range readGoldenInput(t, in).Rows {
			rows = append(rows, Row{Table: r.Table, Host: r.Host, Cols: r.Cols, Seq: uint64(len(rows) + 1)})
		}
	}
	return rows
}

// TestShapesKeepTheirPromise normalizes rows of every table and action, and
// the golden inputs, and checks each event against its shape: the constant
// fields hold their values and no field outside the shape is set.
func TestShapesKeepTheirPromise(t *testing.T) {
	rows := shapeAndGoldenRows(t)
	n := New(Options{})
	seen := map[ecs.ShapeID]int{}
	var ev ecs.Event
	for i, r := range rows {
		ev.Reset()
		if err := n.Normalize(r, &ev); err != nil {
			continue
		}
		if msg := shapeViolation(&ev); msg != "" {
			t.Errorf("row %d (%s %v): %s", i, r.Table, r.Cols, msg)
		}
		seen[ev.Shape]++
	}
	if len(seen) != 12 {
		t.Errorf("events came in %d shapes, want all 12 (4 tables, 2 or 4 actions each): %v", len(seen), seen)
	}
}

// shapeViolation says how ev breaks its shape's promise, or "" when it
// keeps it: the constant fields hold their values and no field outside the
// shape is set.
func shapeViolation(ev *ecs.Event) string {
	shape := ecs.ShapeOf(ev.Shape)
	if shape == nil {
		return "the event has no shape"
	}
	var msg string
	ev.Range(func(f ecs.Field, v ecs.Value) {
		want, known := shape.Knows(f)
		switch {
		case msg != "" || !known:
		case want.Kind == ecs.Missing:
			msg = fmt.Sprintf("shape %s promises %s is never set, the event has %v", shape.Name, f.Name(), v)
		case !sameValue(want, v):
			msg = fmt.Sprintf("shape %s promises %s = %v, the event has %v", shape.Name, f.Name(), want, v)
		}
	})
	for f, want := range shape.Const {
		if got := ev.Get(f); msg == "" && !sameValue(got, want) {
			msg = fmt.Sprintf("shape %s promises %s = %v, the event has %v", shape.Name, f.Name(), want, got)
		}
	}
	return msg
}

func sameValue(a, b ecs.Value) bool {
	as, aok := a.Text()
	bs, bok := b.Text()
	return a.Kind == b.Kind && aok == bok && as == bs
}

// TestDeferredFieldsComplete: an event whose consumer reads no deferrable
// field is made without them, and once completed equals the eagerly
// normalized event, for rows of every table and action (the golden inputs
// included). Completing happens on Complete, or when the next row comes.
func TestDeferredFieldsComplete(t *testing.T) {
	rows := shapeAndGoldenRows(t)
	eager, lazy := New(Options{}), New(Options{Reads: []string{"process.name"}})
	if lazy.lazy != blockIdentity|blockIDs|blockProcessExtra|blockParentExtra {
		t.Fatalf("deferrable blocks = %b, want all", lazy.lazy)
	}
	var left, kept ecs.Event
	deferred := 0
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
		if lazy.pend.blocks&blockIdentity != 0 { // reading the field would fill it in
			deferred++
		}
		want, _ := left.MarshalJSON()
		got, _ := kept.MarshalJSON() // completes
		if string(got) != string(want) {
			t.Fatalf("row %d (%s):\ncompleted %s\neager     %s", i, r.Table, got, want)
		}
	}
	if deferred == 0 {
		t.Fatal("no event left its identity out")
	}
}
