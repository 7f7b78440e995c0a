package eql

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

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
	testutil.Golden(t, filepath.Join("testdata", "parse.golden"), parsed.Bytes())
	testutil.Golden(t, filepath.Join("testdata", "match.golden"), matched.Bytes())
}
