package normalize

import (
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

func TestViewFields(t *testing.T) {
	buf := []byte("4242/usr/bin/curl")
	fs := ViewFields(buf, 2)
	fs[0].SetView(ColPid, 0, 2)
	fs[0].SetView(ColPath, 4, 13)
	fs[1].SetView(ColPid, 2, 2)
	fs[1].SetView(ColPath, 4, 99) // out of range: ignored
	fs[1].SetView(ColNone, 0, 1)
	if fs[0].Get(ColPid) != "42" || fs[0].Get(ColPath) != "/usr/bin/curl" || !fs[0].Has(ColPath) {
		t.Fatalf("row 0: %v", fs[0].Map())
	}
	if fs[1].Get(ColPid) != "42" || fs[1].Has(ColPath) || fs[1].Len() != 1 {
		t.Fatalf("row 1: %v", fs[1].Map())
	}
	r := Row{Table: TableProcessEvents, Host: "h", Fields: &fs[0]}
	if r.Get(ColPath) != "/usr/bin/curl" {
		t.Fatalf("row view %q", r.Get(ColPath))
	}
}

// A row given as Fields viewing a shared buffer (as the extension decodes
// osquery's answers) becomes the same event as the same row given as a
// map, event.id (and its content digest) included.
func TestViewFieldsRowMatchesMapRow(t *testing.T) {
	cols := map[string]string{"eid": "0000000007", "time": "1700000000", "uptime": "4242", "pid": "300", "parent": "1",
		"path": "/usr/bin/id", "cmdline": "id -u", "cwd": "/root", "uid": "0", "gid": "0", "euid": "0", "egid": "0",
		"auid": "1000", "syscall": "execve", "suid": "", "sgid": "0"}
	var buf []byte
	type part struct {
		name     string
		off, len uint32
	}
	var parts []part
	for k, v := range cols {
		parts = append(parts, part{k, uint32(len(buf)), uint32(len(v))})
		buf = append(buf, v...)
	}
	names := map[string]View{}
	for _, p := range parts {
		if ColOf(p.name) == ColNone {
			names[p.name] = View{uint32(len(buf)), uint32(len(p.name))}
			buf = append(buf, p.name...)
		}
	}
	fs := ViewFields(buf, 1)
	var others []View
	for _, p := range parts {
		if c := ColOf(p.name); c != ColNone {
			fs[0].SetView(c, p.off, p.len)
		} else {
			others = append(others, names[p.name], View{p.off, p.len})
		}
	}
	fs[0].SetOtherViews(others, make([]View, len(others)))

	viaMap := New(Options{})
	viaFields := New(Options{})
	var a, b ecs.Event
	if err := viaMap.Normalize(Row{Table: TableProcessEvents, Host: "h", Cols: cols}, &a); err != nil {
		t.Fatal(err)
	}
	if err := viaFields.Normalize(Row{Table: TableProcessEvents, Host: "h", Fields: &fs[0]}, &b); err != nil {
		t.Fatal(err)
	}
	a.Complete()
	b.Complete()
	for _, f := range []ecs.Field{ecs.EventID, ecs.ProcessEntityID, ecs.ProcessCommandLine, ecs.ProcessSavedUserID, ecs.AuditUserID} {
		if x, y := a.Get(f), b.Get(f); x.Str != y.Str || x.Kind != y.Kind {
			t.Errorf("%s: map %q, fields %q", f.Name(), x.Str, y.Str)
		}
	}
}

// A view buffered by a Reorderer (encodeRow) or given a column of its own
// (SetCol, SetOther) is laid out anew: the shared buffer is never written
// and every column survives.
func TestViewFieldsEncodeAndOwn(t *testing.T) {
	buf := []byte("42/bin/shnote1")
	orig := string(buf)
	fs := ViewFields(buf, 1)
	fs[0].SetView(ColPid, 0, 2)
	fs[0].SetView(ColPath, 2, 7)
	fs[0].SetOtherViews([]View{{9, 4}, {13, 1}}, make([]View, 2))

	r := Row{Table: TableProcessEvents, Seq: 3, Fields: &fs[0]}
	enc := encodeRow(nil, &r)
	got := decodeRows([][]byte{enc}, 1, "h")[0]
	for name, want := range map[string]string{"pid": "42", "path": "/bin/sh", "note": "1"} {
		if v, ok := got.LookupName(name); !ok || v != want {
			t.Errorf("decoded %s = %q %v, want %q", name, v, ok, want)
		}
	}
	if got.Seq != 3 || got.Table != TableProcessEvents {
		t.Errorf("decoded seq %d table %q", got.Seq, got.Table)
	}

	fs[0].SetCol(ColCwd, "/tmp")
	fs[0].SetOther("extra", "x")
	if string(buf) != orig {
		t.Fatalf("shared buffer written: %q", buf)
	}
	want := map[string]string{"pid": "42", "path": "/bin/sh", "cwd": "/tmp", "note": "1", "extra": "x"}
	if m := fs[0].Map(); len(m) != len(want) {
		t.Fatalf("after own: %v, want %v", m, want)
	} else {
		for k, v := range want {
			if m[k] != v {
				t.Errorf("after own %s = %q, want %q", k, m[k], v)
			}
		}
	}
}
