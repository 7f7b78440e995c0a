package normalize

import "testing"

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
