package eql

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func readQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "queries.eql"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	var qs []string
	for _, q := range strings.Split(strings.Join(lines, "\n"), "\n----\n") {
		if q = strings.TrimSpace(q); q != "" {
			qs = append(qs, q)
		}
	}
	return qs
}

func readEvents(t *testing.T) []*ecs.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			objs = append(objs, l)
		}
	}
	return stream(t, objs...)
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestGolden compiles testdata/queries.eql (parse.golden: the canonical
// tree or the error) and runs each query over testdata/events.jsonl
// (match.golden: the ids of matching events or sequences).
func TestGolden(t *testing.T) {
	queries := readQueries(t)
	events := readEvents(t)
	var parsed, matched bytes.Buffer
	for _, src := range queries {
		head := strings.Join(strings.Fields(src), " ")
		parsed.WriteString(head + "\n")
		matched.WriteString(head + "\n")
		q, err := Compile(src, Options{})
		if err != nil {
			parsed.WriteString("  error: " + err.Error() + "\n")
			matched.WriteString("  error\n")
			continue
		}
		parsed.WriteString("  " + q.String() + "\n")
		parsed.WriteString("  fields: " + strings.Join(q.Fields, ", ") + "\n")
		var out [][]*ecs.Event
		if q.Sequence != nil {
			out = run(q.Sequence.NewMatcher(Limits{}), events)
		} else {
			for _, ev := range events {
				if q.Event(ev) {
					out = append(out, []*ecs.Event{ev})
				}
			}
		}
		matched.WriteString("  " + ids(out) + "\n")
	}
	checkGolden(t, "parse.golden", parsed.Bytes())
	checkGolden(t, "match.golden", matched.Bytes())
}
