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

// A store whose freelist was last written by bbolt's hash-map freelist
// (earlier versions opened it so) opens cleanly with the array freelist,
// reuses its free pages and keeps its data: the freelist page has one
// format for both.
func TestOpenReadsAHashMapFreelist(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const ns = "procs"
	want := map[uint32]string{}
	commitSlots := func(s *Store, round, from, to int) {
		var list []Slot
		for n := from; n < to; n++ {
			v := strings.Repeat(string(rune('a'+round)), 90+n%17)
			list = append(list, Slot{N: uint32(n), Value: []byte(v)})
			want[uint32(n)] = v
		}
		if _, err := s.Commit(ctx, Batch{Slots: map[string][]Slot{ns: list}}); err != nil {
			t.Fatal(err)
		}
	}
	s := openTest(t, dir)
	commitSlots(s, 0, 0, 3000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An earlier version rewrites every block: the old pages go to the
	// freelist, which it writes.
	path := filepath.Join(dir, DefaultFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{db: db, path: path}
	commitSlots(old, 1, 0, 3000)
	st := db.Stats()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if free := st.FreePageN + st.PendingPageN; free < 50 {
		t.Fatalf("the rewrite left %d free pages, want many", free)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	s, res, err := Open(ctx, dir, Options{})
	if err != nil || res.Recovered {
		t.Fatalf("Open: %v, recovered %v (%s)", err, res.Recovered, res.Reason)
	}
	t.Cleanup(func() { _ = s.Close() })
	commitSlots(s, 2, 1000, 2000)
	if got := slotsOf(t, s, ns); len(got) != len(want) {
		t.Fatalf("%d slots, want %d", len(got), len(want))
	} else {
		for n, v := range want {
			if got[n] != v {
				t.Fatalf("slot %d = %.10q..., want %.10q...", n, got[n], v)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir) // checked again on open
	if got := slotsOf(t, s, ns); len(got) != len(want) {
		t.Fatalf("after reopening: %d slots, want %d", len(got), len(want))
	}
	if after, err := os.Stat(path); err == nil && after.Size() > info.Size() {
		t.Errorf("the file grew from %d to %d bytes: the free pages were not reused", info.Size(), after.Size())
	}
}
