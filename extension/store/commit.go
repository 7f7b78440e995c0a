package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/osqdetect/osqdetect/detect"
)

// Limits on what one alert may hold; an alert over them is rejected, not
// stored, and counted in CommitResult.
const (
	MaxIDLen     = 128
	MaxRuleIDLen = 1024
	MaxNameLen   = 4096 // names and other metadata strings of an alert
)

// Cursor is how far the poller has read one event table: the newest
// osquery `time` it has fully handled and the eids it has already seen in
// that second (osquery returns the second again on the next read).
type Cursor struct {
	Time int64    `json:"time"`
	EIDs []string `json:"eids,omitempty"`
}

// Batch is everything one poll produced. Commit writes it atomically.
type Batch struct {
	// Alerts are upserted by id: an id already stored is overwritten,
	// never duplicated.
	Alerts []*detect.Alert
	// Terms are new-terms history entries; an entry replaces the stored
	// one for the same rule and key unless the stored LastSeen is newer.
	Terms []detect.TermEntry
	// Cursors replace the stored cursor of each source table named.
	Cursors map[string]Cursor
	// State replaces named engine state blobs; a nil value deletes one.
	State map[string][]byte
	// Records change keyed engine state, by namespace: each record
	// replaces the stored value of its key, a nil Value deletes it. A
	// namespace named in ClearRecords is emptied first.
	Records      map[string][]Record
	ClearRecords []string
	// Slots change numbered values, by namespace (distinct from the
	// Records namespaces), stored packed SlotsPerBlock to a value; a
	// namespace named in ClearRecords is emptied first.
	Slots map[string][]Slot
}

// Record is one entry of keyed engine state.
type Record struct {
	Key, Value []byte
}

// CommitResult counts what a Commit did.
type CommitResult struct {
	// NewAlerts were not stored before; UpdatedAlerts replaced an alert
	// with the same id.
	NewAlerts, UpdatedAlerts int
	// Rejected alerts were malformed (empty or oversized id or rule id)
	// and not stored; LastRejectReason says why the last one was.
	Rejected         int
	LastRejectReason string
}

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("state store is closed")

// Commit writes one poll's results in a single transaction: either all of
// the batch is stored or, on error, none of it.
func (s *Store) Commit(ctx context.Context, b Batch) (CommitResult, error) {
	var res CommitResult
	if err := s.usable(ctx); err != nil {
		return res, err
	}
	// Encode outside the write lock.
	type encoded struct {
		a    *detect.Alert
		json []byte
	}
	alerts := make([]encoded, 0, len(b.Alerts))
	for i, a := range b.Alerts {
		if reason := invalidAlert(a); reason != "" {
			res.Rejected++
			res.LastRejectReason = fmt.Sprintf("alert %d: %s", i, reason)
			continue
		}
		data, err := json.Marshal(a)
		if err != nil {
			res.Rejected++
			res.LastRejectReason = fmt.Sprintf("alert %s: encoding: %v", a.ID, err)
			continue
		}
		alerts = append(alerts, encoded{a, data})
	}
	cursors := make(map[string][]byte, len(b.Cursors))
	for table, c := range b.Cursors {
		if table == "" {
			return CommitResult{}, errors.New("committing: cursor with an empty table name")
		}
		data, err := json.Marshal(c)
		if err != nil {
			return CommitResult{}, fmt.Errorf("committing cursor of %s: %w", table, err)
		}
		cursors[table] = data
	}
	for name := range b.State {
		if name == "" {
			return CommitResult{}, errors.New("committing: state blob with an empty name")
		}
	}
	for name := range b.Slots {
		if name == "" {
			return CommitResult{}, errors.New("committing: slots with an empty namespace")
		}
	}
	for name, recs := range b.Records {
		if name == "" {
			return CommitResult{}, errors.New("committing: records with an empty namespace")
		}
		for _, r := range recs {
			if len(r.Key) == 0 || len(r.Key) > bolt.MaxKeySize {
				return CommitResult{}, fmt.Errorf("committing: a record of %s has a key of %d bytes", name, len(r.Key))
			}
		}
	}

	err := s.db.Update(func(tx *bolt.Tx) error {
		w := writer{tx: tx}
		for _, e := range alerts {
			isNew, err := w.putAlert(e.a, e.json)
			if err != nil {
				return fmt.Errorf("storing alert %s: %w", e.a.ID, err)
			}
			if isNew {
				res.NewAlerts++
			} else {
				res.UpdatedAlerts++
			}
		}
		if err := w.addAlertCount(int64(res.NewAlerts)); err != nil {
			return err
		}
		terms := tx.Bucket(bucketTerms)
		for _, t := range b.Terms {
			k, v := termKV(t)
			if t.Forget {
				if err := terms.Delete(k); err != nil {
					return fmt.Errorf("deleting new-terms entry of rule %s: %w", t.Rule, err)
				}
				continue
			}
			if old := terms.Get(k); len(old) >= 8 && int64(binary.BigEndian.Uint64(old)) > t.LastSeen {
				continue
			}
			if err := terms.Put(k, v); err != nil {
				return fmt.Errorf("storing new-terms entry of rule %s: %w", t.Rule, err)
			}
		}
		cb := tx.Bucket(bucketCursors)
		for table, data := range cursors {
			if err := cb.Put([]byte(table), data); err != nil {
				return fmt.Errorf("storing cursor of %s: %w", table, err)
			}
		}
		sb := tx.Bucket(bucketState)
		for name, blob := range b.State {
			var err error
			if blob == nil {
				err = sb.Delete([]byte(name))
			} else {
				err = sb.Put([]byte(name), seal(blob))
			}
			if err != nil {
				return fmt.Errorf("storing state %s: %w", name, err)
			}
		}
		if err := s.putRecords(tx, b.ClearRecords, b.Records, b.Slots); err != nil {
			return err
		}
		if s.inCommit != nil {
			s.inCommit()
		}
		return nil
	})
	if err != nil {
		return CommitResult{Rejected: res.Rejected, LastRejectReason: res.LastRejectReason},
			fmt.Errorf("committing to state store %s: %w", s.path, err)
	}
	return res, nil
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func invalidAlert(a *detect.Alert) string {
	switch {
	case a == nil:
		return "nil alert"
	case a.ID == "":
		return "empty id"
	case len(a.ID) > MaxIDLen:
		return fmt.Sprintf("id is %d bytes, the limit is %d", len(a.ID), MaxIDLen)
	case a.RuleID == "":
		return "empty rule id"
	case len(a.RuleID) > MaxRuleIDLen:
		return fmt.Sprintf("rule id is %d bytes, the limit is %d", len(a.RuleID), MaxRuleIDLen)
	}
	return ""
}

// writer applies alert changes and keeps the indexes and counts in step.
type writer struct{ tx *bolt.Tx }

// putAlert upserts one alert and reports whether its id was new.
func (w writer) putAlert(a *detect.Alert, data []byte) (bool, error) {
	alerts := w.tx.Bucket(bucketAlerts)
	id := []byte(a.ID)
	old := alerts.Get(id)
	index := old == nil
	if old != nil {
		var prev detect.Alert
		if err := json.Unmarshal(old, &prev); err == nil && (prev.Time != a.Time || prev.RuleID != a.RuleID) {
			// Same id, different time or rule: move its index entries.
			if err := w.unindex(prev.RuleID, prev.Time, prev.ID); err != nil {
				return false, err
			}
			if err := w.adjustRule(prev.RuleID, -1, 0); err != nil {
				return false, err
			}
			index = true
		}
	}
	if err := alerts.Put(id, data); err != nil {
		return false, err
	}
	if index {
		if err := w.tx.Bucket(bucketByTime).Put(byTimeKey(a.Time, a.ID), []byte(a.RuleID)); err != nil {
			return false, err
		}
		if err := w.tx.Bucket(bucketByRule).Put(byRuleKey(a.RuleID, a.Time, a.ID), nil); err != nil {
			return false, err
		}
		if err := w.adjustRule(a.RuleID, 1, a.Time); err != nil {
			return false, err
		}
	}
	return old == nil, nil
}

// deleteAlert removes an alert known by its time index entry.
func (w writer) deleteAlert(rule string, t int64, id string) error {
	if err := w.tx.Bucket(bucketAlerts).Delete([]byte(id)); err != nil {
		return err
	}
	if err := w.unindex(rule, t, id); err != nil {
		return err
	}
	if err := w.adjustRule(rule, -1, 0); err != nil {
		return err
	}
	return w.addAlertCount(-1)
}

func (w writer) unindex(rule string, t int64, id string) error {
	if err := w.tx.Bucket(bucketByTime).Delete(byTimeKey(t, id)); err != nil {
		return err
	}
	return w.tx.Bucket(bucketByRule).Delete(byRuleKey(rule, t, id))
}

// adjustRule adds delta to a rule's alert count and raises its last alert
// time to at least t. A count that reaches zero removes the entry.
func (w writer) adjustRule(rule string, delta, t int64) error {
	b := w.tx.Bucket(bucketCounts)
	count, last := decodeCount(b.Get([]byte(rule)))
	count += delta
	if t > last {
		last = t
	}
	if count <= 0 {
		return b.Delete([]byte(rule))
	}
	return b.Put([]byte(rule), encodeCount(count, last))
}

func (w writer) addAlertCount(delta int64) error {
	if delta == 0 {
		return nil
	}
	meta := w.tx.Bucket(bucketMeta)
	n := decodeInt(meta.Get(keyAlertCount)) + delta
	if n < 0 {
		n = 0
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return meta.Put(keyAlertCount, v[:])
}

func decodeInt(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func encodeCount(count, last int64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(count))
	binary.BigEndian.PutUint64(v[8:], uint64(last))
	return v
}

func decodeCount(v []byte) (count, last int64) {
	if len(v) != 16 {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
}

// termKV encodes a new-terms entry. The key is a hash so that any rule and
// term key fit bbolt's key size limit; the value carries both in full.
func termKV(t detect.TermEntry) (key, value []byte) {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(t.Rule)))
	h.Write(n[:])
	h.Write([]byte(t.Rule))
	h.Write([]byte(t.Key))
	key = h.Sum(nil)
	value = make([]byte, 0, 8+4+len(t.Rule)+len(t.Key))
	value = binary.BigEndian.AppendUint64(value, uint64(t.LastSeen))
	value = binary.BigEndian.AppendUint32(value, uint32(len(t.Rule)))
	value = append(value, t.Rule...)
	value = append(value, t.Key...)
	return key, value
}

func decodeTerm(v []byte) (detect.TermEntry, bool) {
	if len(v) < 12 {
		return detect.TermEntry{}, false
	}
	n := int(binary.BigEndian.Uint32(v[8:12]))
	if n > len(v)-12 {
		return detect.TermEntry{}, false
	}
	return detect.TermEntry{
		LastSeen: int64(binary.BigEndian.Uint64(v)),
		Rule:     string(v[12 : 12+n]),
		Key:      string(v[12+n:]),
	}, true
}

// putRecords applies keyed state changes: namespaces are buckets nested in
// the records bucket.
func (s *Store) putRecords(tx *bolt.Tx, clearNS []string, recs map[string][]Record, slots map[string][]Slot) error {
	root := tx.Bucket(bucketRecords)
	for _, name := range clearNS {
		if root.Bucket([]byte(name)) != nil {
			if err := root.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("clearing records of %s: %w", name, err)
			}
		}
	}
	for name, list := range recs {
		if len(list) == 0 {
			continue
		}
		b, err := root.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return fmt.Errorf("storing records of %s: %w", name, err)
		}
		for _, r := range list {
			if r.Value == nil {
				err = b.Delete(r.Key)
			} else {
				err = b.Put(r.Key, seal(r.Value))
			}
			if err != nil {
				return fmt.Errorf("storing a record of %s: %w", name, err)
			}
		}
	}
	// The arena is free again: only one write transaction runs at a time,
	// and the previous one has ended.
	arena := s.slotArena[:0]
	defer func() { s.slotArena = arena }()
	for name, list := range slots {
		if len(list) == 0 {
			continue
		}
		b, err := root.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return fmt.Errorf("storing slots of %s: %w", name, err)
		}
		if arena, err = putSlots(b, list, arena); err != nil {
			return fmt.Errorf("storing slots of %s: %w", name, err)
		}
	}
	return nil
}
