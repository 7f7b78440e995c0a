package kql

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden compiles every testdata/*.kql and compares the compiled
// query's String() with testdata/*.golden (go test -run Golden -update
// rewrites them).
func TestGolden(t *testing.T) {
	srcs, err := filepath.Glob(filepath.Join("testdata", "*.kql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no testdata/*.kql files")
	}
	for _, path := range srcs {
		name := strings.TrimSuffix(filepath.Base(path), ".kql")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if q, err := Compile(string(src)); err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				got = q.String()
			}
			golden := strings.TrimSuffix(path, ".kql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("compiled %s differs from %s:\n--- got\n%s--- want\n%s", path, golden, got, want)
			}
		})
	}
}
