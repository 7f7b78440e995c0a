package osqlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/normalize"
)

// readWith reads line with r as parse does and renders the result.
func readWith(t *testing.T, r *Reader, line []byte) (out string, fastOK bool) {
	t.Helper()
	fl, ok := r.parseFast(line)
	if !ok {
		return "", false
	}
	rows, reason := r.rowsFast(&fl)
	var got []rowsOut
	for _, row := range maybe(rows) {
		got = append(got, rowsOut{row.Table, row.Host, row.Seq, fmt.Sprint(withoutUnread(row.Table, row.cols))})
	}
	return render(got) + " | " + reason, true
}

// withoutUnread leaves out of a row with an eid the columns a reader may
// leave out (normalize.Unread), so that rows read by a template, which
// leaves them out, and by the scanner, which keeps them, compare.
func withoutUnread(table string, cols map[string]string) map[string]string {
	if cols["eid"] == "" {
		return cols
	}
	out := map[string]string{}
	for k, v := range cols {
		if !normalize.Unread(table, normalize.ColOf(k)) {
			out[k] = v
		}
	}
	return out
}

// templateLines are lines of the event shape (the first two learned from
// a reader's first lines) and lines that depart from them in one way each.
var templateLines = []string{
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/socket_events","hostIdentifier":"h1","unixTime":1700000001,"numerics":false,"epoch":0,"columns":{"action":"connect","pid":"10","remote_port":"443","time":"1700000000"},"action":"added"}`,
	// The same shapes, other values.
	`{"name":"pack/p/process_events","hostIdentifier":"h22","unixTime":17,"decorations":{"host_uuid":"uuid-2","hostname":"h22"},"columns":{"cmdline":"","pid":"2","time":"1","x_col":""},"action":"added"}`,
	`{"name":"pack/p/socket_events","hostIdentifier":"h2","unixTime":-1.5e3,"numerics":false,"epoch":12345,"columns":{"action":"bind","pid":"1","remote_port":"0","time":"5"},"action":"removed"}`,
	// Departures: an escape, a byte past ASCII, a number for a string, a
	// string for a number, true for false, a key more or less, a space,
	// a key in another case, the line cut short or run on.
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a \"b\"","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"café","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":10,"time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":"1700000001","decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/socket_events","hostIdentifier":"h1","unixTime":1700000001,"numerics":true,"epoch":0,"columns":{"action":"connect","pid":"10","remote_port":"443","time":"1700000000"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7","pid":"11"},"action":"added"}`,
	`{"name":"pack/p/process_events", "hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","Pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"} `,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":01,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7"},"action":"added"}`,
	`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"decorations":{"host_uuid":"u1","hostname":"h1"},"columns":{"cmdline":"a b","pid":"10","time":"1700000000","x_col":"7\u0041"},"action":"added"}`,
}

// TestTemplatesMatchScanner: a reader that has learned the first lines'
// templates reads every line as a reader without templates does, and
// reads the lines of a learned shape by their template.
func TestTemplatesMatchScanner(t *testing.T) {
	r := NewReader(nil, "t")
	for _, line := range templateLines[:2] {
		if _, ok := readWith(t, r, []byte(line)); !ok {
			t.Fatalf("scanner refused %s", line)
		}
	}
	if len(r.templates) != 2 {
		t.Fatalf("%d templates learned, want 2", len(r.templates))
	}
	for i, line := range templateLines {
		_, byTemplate := r.parseTemplate([]byte(line))
		if want := i < 4; byTemplate != want {
			t.Errorf("line %d: read by a template %v, want %v", i, byTemplate, want)
		}
		fresh := NewReader(nil, "t")
		fresh.learnCredit = 0 // no templates
		fresh.SetSeq(r.seq)
		got, gotOK := readWith(t, r, []byte(line))
		want, wantOK := readWith(t, fresh, []byte(line))
		if got != want || gotOK != wantOK {
			t.Errorf("line %d:\ntemplate reader %v %s\nscanner         %v %s", i, gotOK, got, wantOK, want)
		}
	}
}

// TestTemplatesLearnOsqueryLines: the lines of osquery's event format in
// the test logs are learned, and read back by their templates.
func TestTemplatesLearnOsqueryLines(t *testing.T) {
	for _, p := range []string{"testdata/event.log", "../../tests/scenarios/demo-results.log"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(nil, "t")
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				readWith(t, r, line)
			}
		}
		if len(r.templates) == 0 {
			t.Fatalf("%s: no template learned", p)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if _, ok := r.parseTemplate(line); !ok {
				t.Errorf("%s:%d: not read by a template", p, i+1)
			}
		}
	}
}

// TestLearningIsRationed: lines of ever-changing shapes are learned at
// most once in learnCost lines, after the first few.
func TestLearningIsRationed(t *testing.T) {
	r := NewReader(nil, "t")
	learned := 0
	for i := 0; i < 1000; i++ {
		line := `{"name":"q` + strings.Repeat("x", i%50) + `","hostIdentifier":"h","columns":{"k` + strings.Repeat("y", i) + `":"1"},"action":"added"}`
		before := r.templates
		var first *lineTemplate
		if len(before) > 0 {
			first = before[0]
		}
		readWith(t, r, []byte(line))
		if len(r.templates) > 0 && r.templates[0] != first {
			learned++
		}
	}
	if max := maxTemplates + 1000/learnCost; learned > max {
		t.Fatalf("%d lines learned, want at most %d", learned, max)
	}
}

// FuzzTemplateMatchesScanner: after learning one line, a reader reads
// another as a reader without templates does.
func FuzzTemplateMatchesScanner(f *testing.F) {
	for _, a := range templateLines[:2] {
		for _, b := range templateLines {
			f.Add([]byte(a), []byte(b))
		}
	}
	logs, _ := filepath.Glob("testdata/*.log")
	for _, p := range logs {
		b, _ := os.ReadFile(p)
		lines := bytes.Split(b, []byte("\n"))
		for i := 0; i+1 < len(lines); i++ {
			f.Add(bytes.TrimSpace(lines[i]), bytes.TrimSpace(lines[i+1]))
		}
	}
	f.Fuzz(func(t *testing.T, learn, line []byte) {
		r := NewReader(nil, "t")
		if _, ok := readWith(t, r, learn); !ok {
			return
		}
		fresh := NewReader(nil, "t")
		fresh.learnCredit = 0
		fresh.SetSeq(r.seq)
		got, gotOK := readWith(t, r, line)
		want, wantOK := readWith(t, fresh, line)
		if got != want || gotOK != wantOK {
			t.Fatalf("learned %q\nline %q\ntemplate reader %v %s\nscanner         %v %s", learn, line, gotOK, got, wantOK, want)
		}
	})
}

// TestTemplateDroppedWhenLinesDepart: a template whose query's lines keep
// departing from it (here: a value with an escape) after their start
// matched is dropped after a few, so that hostile or irregular lines cost
// a failed match a few times, not on every line.
func TestTemplateDroppedWhenLinesDepart(t *testing.T) {
	r := NewReader(nil, "t")
	readWith(t, r, []byte(templateLines[0]))
	if len(r.templates) != 1 {
		t.Fatalf("%d templates, want 1", len(r.templates))
	}
	learned := r.templates[0]
	departs := []byte(templateLines[4]) // same start, an escaped quote in cmdline
	for i := 0; i <= maxTemplateMisses; i++ {
		readWith(t, r, departs)
	}
	for _, tpl := range r.templates {
		if tpl == learned {
			t.Fatalf("template kept after %d lines departed from it", maxTemplateMisses+1)
		}
	}
	// Lines that match now and then keep it.
	r = NewReader(nil, "t")
	readWith(t, r, []byte(templateLines[0]))
	learned = r.templates[0]
	for i := 0; i < 100; i++ {
		line := templateLines[2]
		if i%10 == 0 {
			line = templateLines[4]
		}
		readWith(t, r, []byte(line))
	}
	if r.templates[0] != learned {
		t.Fatal("template dropped though nine lines in ten match it")
	}
}

// TestLongLinesAreNotLearned: a template keeps a copy of its line, so a
// line longer than maxTemplateLine is read but not learned.
func TestLongLinesAreNotLearned(t *testing.T) {
	r := NewReader(nil, "t")
	long := strings.Replace(templateLines[0], `"a b"`, `"`+strings.Repeat("a", maxTemplateLine)+`"`, 1)
	if _, ok := readWith(t, r, []byte(long)); !ok {
		t.Fatal("long line not read")
	}
	if len(r.templates) != 0 {
		t.Fatalf("%d templates learned from a %d-byte line", len(r.templates), len(long))
	}
}

// TestTemplateLeavesOutUnreadColumns: lines a template reads leave out the
// columns no event of their table reads when the row has an eid
// (normalize.Unread); a line whose eid is empty, a table whose rows are not
// events and a query without an eid column keep every column.
func TestTemplateLeavesOutUnreadColumns(t *testing.T) {
	line := func(name, eid string) []byte {
		return []byte(`{"name":"pack/p/` + name + `","hostIdentifier":"h1","unixTime":1700000001,"columns":{"atime":"0","eid":"` + eid +
			`","mode":"0100755","path":"/bin/sh","pid":"10","time":"1700000000","uptime":"99"},"action":"added"}`)
	}
	noEID := []byte(`{"name":"pack/p/process_events","hostIdentifier":"h1","unixTime":1700000001,"columns":{"atime":"0","mode":"0100755","path":"/bin/sh","pid":"10","time":"1700000000"},"action":"added"}`)
	tests := []struct {
		name        string
		learn, read []byte
		want        string
	}{
		{"event row with an eid", line("process_events", "7"), line("process_events", "8"),
			"map[eid:8 path:/bin/sh pid:10 time:1700000000 uptime:99]"},
		{"socket row with an eid", line("socket_events", "7"), line("socket_events", "8"),
			"map[eid:8 path:/bin/sh pid:10 time:1700000000 uptime:99]"},
		{"empty eid", line("process_events", "7"), line("process_events", ""),
			"map[atime:0 eid: mode:0100755 path:/bin/sh pid:10 time:1700000000 uptime:99]"},
		{"not an event table", line("processes", "7"), line("processes", "8"),
			"map[atime:0 eid:8 mode:0100755 path:/bin/sh pid:10 time:1700000000 uptime:99]"},
		{"no eid column", noEID, noEID,
			"map[atime:0 mode:0100755 path:/bin/sh pid:10 time:1700000000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(nil, "t")
			if _, ok := r.parseFast(tt.learn); !ok || len(r.templates) != 1 {
				t.Fatalf("no template learned (%d)", len(r.templates))
			}
			hits := r.templates[0].hits
			fl, ok := r.parseFast(tt.read)
			if !ok {
				t.Fatal("line not read")
			}
			rows, _ := r.rowsFast(&fl)
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			if got := fmt.Sprint(rows[0].ColMap()); got != tt.want {
				t.Errorf("columns %s\nwant    %s", got, tt.want)
			}
			if tt.name == "event row with an eid" && r.templates[0].hits != hits+1 {
				t.Error("the line was not read by the template")
			}
		})
	}
}
