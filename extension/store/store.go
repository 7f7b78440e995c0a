// Package store is the extension's durable state: alerts, new-terms
// history, poll cursors and opaque engine state, in one bbolt file in the
// state directory.
//
// Everything one poll produces is written by one Commit, a single bbolt
// transaction: after a crash the file holds either the whole poll or none
// of it. Alerts are keyed by their deterministic id, so committing the same
// alert twice stores it once. Reads (the alerts table) run concurrently
// with commits and see the last committed poll.
//
// Open never leaves the extension in a crash loop, and never discards a
// healthy file: a file whose content is damaged (bbolt rejects it, a page
// fails the integrity check, a value does not decode or fails its checksum)
// or that holds another schema version is renamed to
// "<name>.corrupt-<unix seconds>" and a fresh store is created; OpenResult
// says so and why, for detection_health. A failure of the moment (memory
// that cannot be mapped, an I/O error) is retried and then returned as
// ErrUnavailable with the file untouched.
//
// Layout (bucket: key → value):
//
//	meta:     "schema" → "1"; "alerts" → total alert count (8 bytes)
//	alerts:   id → alert JSON (detect.Alert)
//	by_time:  time(8) id → rule id            (time range scans, pruning)
//	by_rule:  len(rule)(2) rule time(8) id → nil  (rule_id push-down)
//	counts:   rule id → count(8) last time(8)
//	terms:    sha256(rule, key) → last seen ms(8) len(rule)(2) rule key
//	cursors:  source table → cursor JSON
//	state:    name → opaque blob
//	records:  namespace (a nested bucket) → key → opaque value
//	          (keyed engine state: process cache slots, threshold groups)
//
// Times are encoded so that byte order is numeric order, negatives included.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this build reads and writes. A file
// with another version is moved aside on Open.
const SchemaVersion = "1"

// DefaultFileName is the database file's name inside the state directory.
const DefaultFileName = "osqdetect.db"

var (
	bucketMeta    = []byte("meta")
	bucketAlerts  = []byte("alerts")
	bucketByTime  = []byte("by_time")
	bucketByRule  = []byte("by_rule")
	bucketCounts  = []byte("counts")
	bucketTerms   = []byte("terms")
	bucketCursors = []byte("cursors")
	bucketState   = []byte("state")
	bucketRecords = []byte("records")

	allBuckets = [][]byte{bucketMeta, bucketAlerts, bucketByTime, bucketByRule,
		bucketCounts, bucketTerms, bucketCursors, bucketState, bucketRecords}

	keySchema     = []byte("schema")
	keyAlertCount = []byte("alerts")
)

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process")

// ErrUnavailable is returned by Open when a file that may well be healthy
// could not be opened (memory could not be mapped, an I/O error, too many
// open files) even after retries. The file is left where it is: the caller
// should exit and be restarted rather than start empty.
var ErrUnavailable = errors.New("state store unavailable")

// Options tune Open. The zero value is ready to use.
type Options struct {
	// FileName is the database file inside the directory (DefaultFileName).
	FileName string
	// LockTimeout bounds the wait for another process to release the file
	// (default 2s); the context's deadline bounds it too.
	LockTimeout time.Duration
	// SkipCheck skips the integrity check of an existing file on Open.
	SkipCheck bool
	// NoSync skips fsync on commit: only for tests and benchmarks, a crash
	// can then lose or corrupt the file.
	NoSync bool
	// InitialMmapSize is bbolt's initial memory map size (0: the file's).
	InitialMmapSize int
	// Retries is how many more times a transient failure to open is tried
	// (default 3), RetryWait the first wait between tries (default 200ms,
	// doubling).
	Retries   int
	RetryWait time.Duration
}

// OpenResult says whether Open had to discard an unusable file.
type OpenResult struct {
	// Recovered is true when the previous file was unusable and a fresh
	// store was created in its place.
	Recovered bool
	// Reason explains what was wrong and where the old file went.
	Reason string
	// MovedTo is the path the unusable file was renamed to.
	MovedTo string
}

// Store is an open state store. Its methods are safe for concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	result OpenResult
	closed atomic.Bool
	// inCommit, when set, runs inside every commit's transaction after
	// its writes (a fault-injection point for crash tests).
	inCommit func()
	// slotArena is the storage of the slot blocks a commit writes, used
	// only inside a write transaction (one at a time) and kept for the
	// next: bbolt holds a transaction's values only until it ends.
	slotArena []byte
}

// Open opens (creating when needed) the store in dir. An unusable file is
// moved aside and replaced by an empty store, reported in OpenResult. Open
// fails only when the directory or file cannot be used at all: it cannot be
// created or read (permissions), or another process holds the file
// (ErrLocked).
func Open(ctx context.Context, dir string, opts Options) (*Store, OpenResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, OpenResult{}, err
	}
	name := opts.FileName
	if name == "" {
		name = DefaultFileName
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, OpenResult{}, fmt.Errorf("creating state directory: %w", err)
	}
	path := filepath.Join(dir, name)
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	// The freelist is synced: rebuilding it on open (NoFreelistSync) panics on
	// a damaged file in a goroutine of bbolt's, which no recover can catch.
	// It is kept as a sorted array (the file's format is the same for both
	// kinds): a commit's pages come from the lowest free ids, so they lie
	// in a few runs of the file (2 against 12 with the hash map, for a
	// poll of 1,000 events once the store has thousands of free pages),
	// and writing the freelist copies the array instead of sorting the
	// map's ids into new storage every commit.
	bopts := &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, FreelistType: bolt.FreelistArrayType,
		InitialMmapSize: opts.InitialMmapSize}

	retries, wait := opts.Retries, opts.RetryWait
	if retries <= 0 {
		retries = 3
	}
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	var db *bolt.DB
	var problem string
	var err error
	for attempt := 0; ; attempt++ {
		db, problem, err = openChecked(path, bopts, !opts.SkipCheck)
		if !errors.Is(err, ErrUnavailable) || attempt >= retries {
			break
		}
		select {
		case <-ctx.Done():
			return nil, OpenResult{}, fmt.Errorf("%w (then: %w)", err, ctx.Err())
		case <-time.After(wait << attempt):
		}
	}
	if err != nil {
		return nil, OpenResult{}, err
	}
	var res OpenResult
	if problem != "" {
		moved, err := moveAside(path)
		if err != nil {
			return nil, OpenResult{}, fmt.Errorf("state store %s is unusable (%s) and could not be moved aside: %w", path, problem, err)
		}
		res = OpenResult{
			Recovered: true,
			MovedTo:   moved,
			Reason:    fmt.Sprintf("state store %s was unusable (%s); moved it to %s and started empty", path, problem, moved),
		}
		db, problem, err = openChecked(path, bopts, false)
		if err != nil {
			return nil, OpenResult{}, err
		}
		if problem != "" {
			return nil, OpenResult{}, fmt.Errorf("creating a fresh state store %s: %s", path, problem)
		}
	}
	return &Store{db: db, path: path, result: res}, res, nil
}

// openChecked opens path and checks it. err is returned for conditions a
// fresh file would not fix; problem describes a file that should be moved
// aside (db is nil then).
func openChecked(path string, opts *bolt.Options, check bool) (db *bolt.DB, problem string, err error) {
	// A damaged file can make bbolt read past the end of its mapping; with
	// panic-on-fault that becomes a recoverable panic on this goroutine.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = closeQuietly(db)
			}
			db, problem, err = nil, fmt.Sprintf("reading it failed: %v", r), nil
		}
	}()

	db, err = bolt.Open(path, 0o600, opts)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, "", fmt.Errorf("opening state store %s: %w (waited %s)", path, ErrLocked, opts.Timeout)
	case errors.Is(err, fs.ErrPermission):
		return nil, "", fmt.Errorf("opening state store: %w", err)
	case err != nil && fileIsDamaged(err):
		return nil, "cannot open: " + err.Error(), nil
	case err != nil:
		return nil, "", fmt.Errorf("opening state store %s: %w: %w", path, ErrUnavailable, err)
	}
	if check {
		if problem := verify(db); problem != "" {
			_ = closeQuietly(db)
			return nil, problem, nil
		}
	}
	if problem := initSchema(db); problem != "" {
		_ = closeQuietly(db)
		return nil, problem, nil
	}
	return db, "", nil
}

// fileIsDamaged tells errors bbolt returns for a file whose content is
// wrong (not a bbolt file, a meta page failing its checksum, too short)
// from errors of the moment (memory mapping, I/O, file limits), which a
// retry or a restart may clear and which never justify discarding a file.
func fileIsDamaged(err error) bool {
	switch {
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrInvalidMapping),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return strings.Contains(err.Error(), "file size too small")
}

func closeQuietly(db *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("closing: %v", r)
		}
	}()
	return db.Close()
}

// verify reads every page reachable from the root and runs bbolt's
// consistency check. It runs under panic-on-fault (see openChecked).
func verify(db *bolt.DB) string {
	var problem string
	err := db.View(func(tx *bolt.Tx) error {
		info, err := os.Stat(db.Path())
		if err != nil {
			return err
		}
		if info.Size() < tx.Size() {
			problem = fmt.Sprintf("truncated: %d bytes, its pages need %d", info.Size(), tx.Size())
			return nil
		}
		var touch byte
		var walk func(b *bolt.Bucket) error
		walk = func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if sub := b.Bucket(k); sub != nil {
						return walk(sub)
					}
					return nil
				}
				if len(v) > 0 {
					touch ^= v[0] ^ v[len(v)-1]
				}
				return nil
			})
		}
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		_ = touch
		for cerr := range tx.Check() {
			if problem == "" {
				problem = "integrity check failed: " + cerr.Error()
			}
		}
		if problem == "" {
			if p := integrityProblem(tx); p != "" {
				problem = "integrity check failed: " + p
			}
		}
		return nil
	})
	if err != nil && problem == "" {
		problem = "reading it failed: " + err.Error()
	}
	return problem
}

// initSchema creates the buckets of a new file, or checks the schema
// version of an existing one. A file with a problem is left unchanged.
func initSchema(db *bolt.DB) string {
	var problem string
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				problem = "no schema version: not an osqdetect state store"
			}
		} else if v := meta.Get(keySchema); string(v) != SchemaVersion {
			problem = fmt.Sprintf("schema version %q, this build reads %q", v, SchemaVersion)
		}
		return nil
	})
	if err == nil && problem == "" {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(SchemaVersion))
		})
	}
	if err != nil && problem == "" {
		problem = "initializing it failed: " + err.Error()
	}
	return problem
}

// moveAside renames an unusable file out of the way and returns its new path.
func moveAside(path string) (string, error) {
	base := path + ".corrupt-" + strconv.FormatInt(time.Now().Unix(), 10)
	target := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			break
		}
		target = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, target); err != nil {
		return "", err
	}
	return target, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// OpenResult is what Open reported about the file it found.
func (s *Store) OpenResult() OpenResult { return s.result }

// Close closes the database. Further calls fail.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state store %s: %w", s.path, err)
	}
	return nil
}

// timeKey encodes t so that byte order is numeric order.
func putTime(b []byte, t int64) { binary.BigEndian.PutUint64(b, uint64(t)^(1<<63)) }

func getTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func byTimeKey(t int64, id string) []byte {
	k := make([]byte, 8+len(id))
	putTime(k, t)
	copy(k[8:], id)
	return k
}

func rulePrefix(rule string) []byte {
	k := make([]byte, 2+len(rule), 2+len(rule)+8+40)
	binary.BigEndian.PutUint16(k, uint16(len(rule)))
	copy(k[2:], rule)
	return k
}

func byRuleKey(rule string, t int64, id string) []byte {
	k := rulePrefix(rule)
	var tb [8]byte
	putTime(tb[:], t)
	k = append(k, tb[:]...)
	return append(k, id...)
}
