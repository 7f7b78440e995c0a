package kql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osqdetect/osqdetect/internal/testutil"
)

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
			testutil.Golden(t, strings.TrimSuffix(path, ".kql")+".golden", []byte(got))
		})
	}
}
