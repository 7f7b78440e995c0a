package store

import (
	"bytes"
	"context"
	"encoding/binary"
	stderrors "errors"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/bbolt/errors"

	"github.com/osqdetect/osqdetect/detect"
)

// usedPages lists the pages of a store file that hold data (branch and
// leaf pages of every bucket, the freelist), as bbolt reports them.
func usedPages(t *testing.T, path string) (pageSize int, pages []int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil {
				return nil
			}
			if info.Type != "free" {
				pages = append(pages, id)
			}
			id += info.OverflowCount
		}
	})
	if err != nil && err != errors.ErrDatabaseNotOpen {
		t.Fatal(err)
	}
	return db.Info().PageSize, pages
}

// populatedAllKinds writes a store with every kind of value over many
// pages: alerts and their indexes, new-terms history, cursors, state blobs
// (one over several pages) and records.
func populatedAllKinds(t *testing.T, dir string) string {
	t.Helper()
	s := openTest(t, dir)
	fixture(t, s, 400)
	var terms []detect.TermEntry
	for i := 0; i < 300; i++ {
		terms = append(terms, detect.TermEntry{Rule: "rule-" + strconv.Itoa(i%3), Key: "host\x1fparent-" + strconv.Itoa(i), LastSeen: int64(1000 + i)})
	}
	var recs []Record
	for i := 0; i < 300; i++ {
		recs = append(recs, Record{Key: []byte{0, 0, byte(i >> 8), byte(i)}, Value: []byte(`{"h":"host","p":` + strconv.Itoa(i) + `,"x":"/usr/bin/tool"}`)})
	}
	big := []byte(`{"pending":"` + strings.Repeat("x", 20000) + `"}`)
	mustCommit(t, s, Batch{Terms: terms, Records: map[string][]Record{"processes": recs},
		Cursors: map[string]Cursor{"process_events": {Time: 1700000000}},
		State:   map[string][]byte{"poller": []byte(`{"delivered":{"process_events":5}}`), "sequences": big}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, DefaultFileName)
}

// Random bytes over any page a store uses are found when it is opened: the
// file is moved aside, never accepted and then failing every read.
func TestOpenDetectsRandomBytesInAnyPage(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	path := populatedAllKinds(t, base)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize, pages := usedPages(t, path)
	if len(pages) < 20 {
		t.Fatalf("only %d pages in use", len(pages))
	}
	rng := rand.New(rand.NewSource(1))
	tried := 0
	defer func() {
		t.Logf("%d of %d pages damaged and detected", tried, len(pages))
		if tried < len(pages)*3/4 {
			t.Errorf("only %d of %d pages could be damaged", tried, len(pages))
		}
	}()
	for i, id := range pages {
		damaged := append([]byte{}, clean...)
		page := damaged[id*pageSize : (id+1)*pageSize]
		switch {
		case i%3 == 1 && binary.LittleEndian.Uint16(page[8:])&0x03 != 0:
			// Keys and values of a branch or leaf page, after its header
			// and element index.
			count := int(binary.LittleEndian.Uint16(page[10:]))
			if from := 16 + 16*count; from < pageSize {
				rng.Read(page[from:])
			}
		case i%3 != 2: // the whole page
			rng.Read(page)
		default: // only the values of a leaf page: bbolt sees a well-formed page
			if binary.LittleEndian.Uint16(page[8:]) != 0x02 {
				rng.Read(page)
				break
			}
			count := int(binary.LittleEndian.Uint16(page[10:]))
			for e := 0; e < count; e++ {
				el := page[16+16*e:]
				flags := binary.LittleEndian.Uint32(el)
				pos, ksize, vsize := int(binary.LittleEndian.Uint32(el[4:])), int(binary.LittleEndian.Uint32(el[8:])), int(binary.LittleEndian.Uint32(el[12:]))
				start := 16 + 16*e + pos + ksize
				if flags&0x01 != 0 || start+vsize > pageSize {
					continue // a nested bucket's header, or a value on overflow pages
				}
				rng.Read(page[start : start+vsize])
			}
		}
		if bytes.Equal(page, clean[id*pageSize:(id+1)*pageSize]) {
			continue // a leaf whose values are all empty (index pages)
		}
		tried++
		dir := filepath.Join(base, "p", string(rune('a'+id%26))+string(rune('a'+id/26%26))+string(rune('a'+id/676)))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, DefaultFileName), damaged)
		s, res, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatalf("page %d: Open: %v", id, err)
		}
		s.Close()
		if !res.Recovered {
			t.Errorf("page %d of %d: random bytes passed the check", id, len(pages))
		}
	}
}

// A healthy store that cannot be mapped into memory (as under a memory
// limit) is not corruption: Open retries, then fails with ErrUnavailable
// and leaves the file as it was; once memory is there it opens with its
// alerts.
func TestOpenTransientFailureKeepsTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := populated(t, dir)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// 2^47 bytes (all of a process's address space) cannot be mapped: mmap
	// fails with ENOMEM, as it does for a big store under a memory limit.
	_, res, err := Open(context.Background(), dir, Options{InitialMmapSize: 1 << 47, Retries: 2, RetryWait: time.Millisecond})
	if !stderrors.Is(err, ErrUnavailable) {
		t.Fatalf("Open = %+v, %v; want ErrUnavailable", res, err)
	}
	t.Logf("error: %v", err)
	if res.Recovered {
		t.Errorf("a healthy store was moved aside: %+v", res)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the state directory holds %d files, want only the store", len(entries))
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the store changed (%v)", err)
	}
	s := openTest(t, dir)
	all, err := s.Alerts(context.Background(), AlertQuery{})
	if err != nil || len(all) != 2000 {
		t.Errorf("after the failure: %d alerts, %v; want 2000", len(all), err)
	}
}
