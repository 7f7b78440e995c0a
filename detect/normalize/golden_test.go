package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/detect/ecs"
	"github.com/osqdetect/osqdetect/internal/testutil"
)

// goldenInput is one testdata/*.json file: processes rows to seed per host,
// rows to normalize, and whether to pass them through a Reorderer first.
type goldenInput struct {
	Comment string                         `json:"comment"`
	Reorder bool                           `json:"reorder"`
	Seed    map[string][]map[string]string `json:"seed"`
	Rows    []struct {
		Table string            `json:"table"`
		Host  string            `json:"host"`
		Cols  map[string]string `json:"cols"`
	} `json:"rows"`
}

// readGoldenInput reads one testdata/*.json file.
func readGoldenInput(t *testing.T, path string) goldenInput {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gi goldenInput
	if err := json.Unmarshal(raw, &gi); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return gi
}

// TestGolden normalizes each testdata/*.json input and compares the output,
// one JSON line per row (the ECS event, or the rejection), with
// testdata/*.golden. Run with -update to rewrite the golden files.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			gi := readGoldenInput(t, in)
			n := New(Options{})
			hosts := make([]string, 0, len(gi.Seed))
			for h := range gi.Seed {
				hosts = append(hosts, h)
			}
			sort.Strings(hosts)
			for _, h := range hosts {
				if _, err := n.Seed(h, gi.Seed[h]); err != nil {
					t.Fatal(err)
				}
			}
			var rows []Row
			for i, r := range gi.Rows {
				rows = append(rows, Row{Table: r.Table, Host: r.Host, Cols: r.Cols, Seq: uint64(i)})
			}
			if gi.Reorder {
				o := NewReorderer(0, 0)
				var ordered []Row
				for _, r := range rows {
					o.Push(r, func(r Row) { ordered = append(ordered, r.Clone()) })
				}
				o.Flush(func(r Row) { ordered = append(ordered, r.Clone()) })
				rows = ordered
			}
			var out bytes.Buffer
			for _, r := range rows {
				var ev ecs.Event
				err := n.Normalize(r, &ev)
				switch {
				case errors.Is(err, ErrStateOnly):
					out.WriteString(`{"state_only":` + jsonString(r.Table) + "}\n")
				case err != nil:
					out.WriteString(`{"error":` + jsonString(err.Error()) + "}\n")
				default:
					b, err := ev.MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					out.Write(b)
					out.WriteByte('\n')
				}
			}
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			testutil.Golden(t, golden, out.Bytes())
			// On a difference, also name each line that differs.
			if want, err := os.ReadFile(golden); err == nil && !bytes.Equal(out.Bytes(), want) {
				gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
					var g, w string
					if i < len(gotLines) {
						g = gotLines[i]
					}
					if i < len(wantLines) {
						w = wantLines[i]
					}
					if g != w {
						t.Errorf("%s line %d:\ngot  %s\nwant %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
