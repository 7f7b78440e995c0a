// Package testutil holds helpers shared by the project's tests: the -update
// flag with golden-file comparison, and the location of the shared rule
// corpus.
package testutil

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Update is the -update test flag: when set, Golden rewrites golden files
// instead of comparing with them. It is registered once here, so a test
// binary importing this package must not define its own "update" flag.
var Update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Golden compares got with the golden file at path. With -update it writes
// got to path instead (creating the parent directory). A missing golden file
// is fatal; a different one is reported with both contents.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("creating directory for golden file %s: %v", path, err)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("writing golden file %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("golden file %s does not exist (run go test -update to create it)", path)
		return
	}
	if err != nil {
		t.Fatalf("reading golden file %s: %v", path, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// SharedDir returns the directory holding the shared research material and
// the Elastic rule corpus: $OSQDETECT_SHARED when set, else the "shared"
// directory beside the module root (the nearest directory above the working
// directory that holds go.mod). It returns "" when neither is found; it does
// not check that the directory exists.
func SharedDir() string {
	if dir := os.Getenv("OSQDETECT_SHARED"); dir != "" {
		return dir
	}
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "..", "shared")
}

// moduleRoot walks up from the working directory to the directory that
// holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Decisions renders what decide says of each item, in order, as a string
// of 1s and 0s: a compact want for table-driven tests of predicates.
func Decisions[T any](decide func(T) bool, items []T) string {
	b := make([]byte, len(items))
	for i, it := range items {
		b[i] = '0'
		if decide(it) {
			b[i] = '1'
		}
	}
	return string(b)
}

// CheckSpecialised checks a predicate specialised for a family of items
// against the one it was derived from: on the family's items (shaped)
// both decide alike, and on unshaped items (which break the family's
// promise, to show what was decided in advance) the specialised one
// decides want. name names the predicate in failures.
func CheckSpecialised[T any](t testing.TB, name string, specialised, original func(T) bool, shaped, unshaped []T, want string) {
	t.Helper()
	if got, orig := Decisions(specialised, shaped), Decisions(original, shaped); got != orig {
		t.Errorf("%s on items of the family: specialised %s, original %s", name, got, orig)
	}
	if got := Decisions(specialised, unshaped); got != want {
		t.Errorf("%s on items outside the family's promise: %s, want %s", name, got, want)
	}
}
