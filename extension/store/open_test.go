package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/osqdetect/osqdetect/detect"
)

// populated writes a store with enough data to span many pages and
// returns its file's path.
func populated(t *testing.T, dir string) string {
	t.Helper()
	s := openTest(t, dir)
	fixture(t, s, 2000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, DefaultFileName)
}

func TestOpenRecoversUnusableFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		reason string // part of OpenResult.Reason
	}{
		{
			name: "garbage",
			damage: func(t *testing.T, path string) {
				write(t, path, []byte(strings.Repeat("not a database ", 2000)))
			},
			reason: "cannot open",
		},
		{
			name:   "too short",
			damage: func(t *testing.T, path string) { write(t, path, []byte("x")) },
			reason: "cannot open",
		},
		{
			name: "truncated",
			damage: func(t *testing.T, path string) {
				populated(t, filepath.Dir(path))
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
			},
			reason: "",
		},
		{
			name: "data pages overwritten",
			damage: func(t *testing.T, path string) {
				populated(t, filepath.Dir(path))
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				fi, _ := f.Stat()
				junk := []byte(strings.Repeat("\xff\x13\x37", 4096))
				for off := int64(4 * 4096); off < fi.Size(); off += 8 * 4096 {
					if _, err := f.WriteAt(junk, off); err != nil {
						t.Fatal(err)
					}
				}
			},
			reason: "",
		},
		{
			name: "another schema version",
			damage: func(t *testing.T, path string) {
				populated(t, filepath.Dir(path))
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
				if err != nil {
					t.Fatal(err)
				}
			},
			reason: `schema version "99", this build reads "1"`,
		},
		{
			name: "another program's bbolt file",
			damage: func(t *testing.T, path string) {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				err = db.Update(func(tx *bolt.Tx) error {
					b, err := tx.CreateBucket([]byte("theirs"))
					if err != nil {
						return err
					}
					return b.Put([]byte("k"), []byte("v"))
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			reason: "no schema version",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, DefaultFileName)
			tt.damage(t, path)
			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s, res, err := Open(context.Background(), dir, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if !res.Recovered || !strings.Contains(res.Reason, tt.reason) || !strings.Contains(res.Reason, res.MovedTo) {
				t.Fatalf("OpenResult = %+v, want a recovery mentioning %q", res, tt.reason)
			}
			if s.OpenResult() != res {
				t.Errorf("Store.OpenResult() = %+v, want %+v", s.OpenResult(), res)
			}
			t.Logf("reason: %s", res.Reason)
			if !strings.HasPrefix(res.MovedTo, path+".corrupt-") {
				t.Errorf("moved to %q", res.MovedTo)
			}
			kept, err := os.ReadFile(res.MovedTo)
			if err != nil || string(kept) != string(damaged) {
				t.Errorf("the damaged file was not kept as it was at %s (%v)", res.MovedTo, err)
			}
			// The fresh store works.
			all, err := s.Alerts(context.Background(), AlertQuery{})
			if err != nil || len(all) != 0 {
				t.Errorf("fresh store: %d alerts, %v", len(all), err)
			}
			mustCommit(t, s, Batch{Alerts: []*detect.Alert{testAlert(1, "r", 1)}})
		})
	}
}

func TestOpenTwiceRecoversBoth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultFileName)
	for i := range 2 {
		write(t, path, []byte("garbage garbage garbage garbage garbage"))
		s, res, err := Open(context.Background(), dir, Options{})
		if err != nil || !res.Recovered {
			t.Fatalf("round %d: %+v, %v", i, res, err)
		}
		s.Close()
	}
	moved, _ := filepath.Glob(path + ".corrupt-*")
	if len(moved) != 2 {
		t.Errorf("moved-aside files = %v, want 2 distinct", moved)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	mustCommit(t, s, Batch{Alerts: []*detect.Alert{testAlert(1, "r", 1)}})
	_, _, err := Open(context.Background(), dir, Options{LockTimeout: 50e6})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, DefaultFileName)) {
		t.Errorf("error %q does not name the file", err)
	}
	// The held store was not touched.
	if all, _ := s.Alerts(context.Background(), AlertQuery{}); len(all) != 1 {
		t.Errorf("held store has %d alerts", len(all))
	}
	if moved, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*")); len(moved) != 0 {
		t.Errorf("a locked file was moved aside: %v", moved)
	}
}

func TestOpenUnwritableDirectory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if _, _, err := Open(context.Background(), dir, Options{}); err == nil {
		t.Fatal("Open in a read-only directory succeeded")
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
