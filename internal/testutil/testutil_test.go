package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordingTB is a testing.TB that records Errorf and Fatalf messages
// instead of failing the test that uses it.
type recordingTB struct {
	testing.TB
	errors, fatals []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

// setUpdate sets *Update for the duration of the test.
func setUpdate(t *testing.T, v bool) {
	t.Helper()
	old := *Update
	*Update = v
	t.Cleanup(func() { *Update = old })
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "out.golden")
	content := []byte("line one\nline two\n")

	setUpdate(t, true)
	rec := &recordingTB{TB: t}
	Golden(rec, path, content)
	if len(rec.errors)+len(rec.fatals) != 0 {
		t.Fatalf("writing with -update reported %v %v", rec.errors, rec.fatals)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file not written: %v", err)
	}
	if string(written) != string(content) {
		t.Fatalf("golden file holds %q, want %q", written, content)
	}

	*Update = false
	tests := []struct {
		name       string
		path       string
		got        string
		wantErrors []string
		wantFatals []string
	}{
		{name: "equal", path: path, got: string(content)},
		{name: "different", path: path, got: "line one\nline 2\n",
			wantErrors: []string{path, "go test -update rewrites it", "line 2", "line two"}},
		{name: "missing", path: filepath.Join(filepath.Dir(path), "absent.golden"), got: "x",
			wantFatals: []string{"absent.golden", "run go test -update to create it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			Golden(rec, tt.path, []byte(tt.got))
			check := func(kind string, got []string, want []string) {
				t.Helper()
				if len(want) == 0 {
					if len(got) != 0 {
						t.Errorf("unexpected %s: %q", kind, got)
					}
					return
				}
				if len(got) != 1 {
					t.Fatalf("%s = %q, want one", kind, got)
				}
				for _, s := range want {
					if !strings.Contains(got[0], s) {
						t.Errorf("%s %q does not mention %q", kind, got[0], s)
					}
				}
			}
			check("Errorf", rec.errors, tt.wantErrors)
			check("Fatalf", rec.fatals, tt.wantFatals)
		})
	}
	// Comparing never rewrites the file.
	if again, _ := os.ReadFile(path); string(again) != string(content) {
		t.Errorf("comparing changed the golden file to %q", again)
	}
}

func TestSharedDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OSQDETECT_SHARED", dir)
	if got := SharedDir(); got != dir {
		t.Errorf("SharedDir() = %q, want $OSQDETECT_SHARED %q", got, dir)
	}
}

func TestSharedDirBesideModuleRoot(t *testing.T) {
	t.Setenv("OSQDETECT_SHARED", "")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// This package sits two levels below the module root.
	root := filepath.Join(wd, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not where expected: %v", err)
	}
	want := filepath.Join(root, "..", "shared")
	if got := SharedDir(); got != want {
		t.Errorf("SharedDir() = %q, want %q", got, want)
	}
}

func TestDecisions(t *testing.T) {
	even := func(n int) bool { return n%2 == 0 }
	for _, tc := range []struct {
		items []int
		want  string
	}{
		{nil, ""},
		{[]int{2}, "1"},
		{[]int{1, 2, 3, 4}, "0101"},
	} {
		if got := Decisions(even, tc.items); got != tc.want {
			t.Errorf("Decisions(even, %v) = %q, want %q", tc.items, got, tc.want)
		}
	}
}

func TestCheckSpecialised(t *testing.T) {
	even := func(n int) bool { return n%2 == 0 }
	alsoEven := func(n int) bool { return n%2 == 0 }
	// Agreeing on the family, and deciding "10" outside it: no failure.
	CheckSpecialised(t, "even", alsoEven, even, []int{1, 2}, []int{4, 5}, "10")
	rec := &failures{}
	CheckSpecialised(rec, "even", func(int) bool { return true }, even, []int{1, 2}, nil, "")
	CheckSpecialised(rec, "even", alsoEven, even, nil, []int{2}, "0")
	if rec.n != 2 {
		t.Errorf("%d failures reported, want 2 (a disagreement, a wrong decision outside the family)", rec.n)
	}
}

// failures counts the failures reported to it.
type failures struct {
	testing.TB
	n int
}

func (f *failures) Helper()               {}
func (f *failures) Errorf(string, ...any) { f.n++ }
