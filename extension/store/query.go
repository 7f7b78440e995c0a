package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/osqdetect/osqdetect/detect"
)

// AlertQuery selects alerts. Conditions AND together; an unset condition
// selects everything. The store answers it from its indexes: IDs by direct
// lookup, RuleIDs through the rule index, the time range through the time
// index; Severities filter what those return.
type AlertQuery struct {
	// IDs, when non-empty, selects only these alert ids.
	IDs []string
	// RuleIDs, when non-empty, selects only alerts of these rules.
	RuleIDs []string
	// Severities, when non-empty, selects only these severities.
	Severities []string
	// MinTime and MaxTime bound the alert time (Unix seconds, inclusive)
	// when HasMinTime / HasMaxTime are set. Times are whole seconds, so an
	// exclusive bound is the inclusive bound one second further in.
	MinTime, MaxTime       int64
	HasMinTime, HasMaxTime bool
	// Limit, when positive, returns at most this many alerts (the oldest).
	Limit int
	// WithoutEvents leaves Alert.Events empty: the matched events are most
	// of an alert's bytes, and a query that does not select them should
	// not pay for decoding and holding them.
	WithoutEvents bool
}

// alertWithoutEvents decodes a stored alert but skips its events.
type alertWithoutEvents struct {
	*detect.Alert
	Events skipped `json:"events"`
}

// skipped is a JSON value that is checked by the decoder but not kept.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

func (q AlertQuery) timeBounds() (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if q.HasMinTime {
		lo = q.MinTime
	}
	if q.HasMaxTime {
		hi = q.MaxTime
	}
	return lo, hi
}

// Alerts returns the alerts q selects, oldest first (by time, then id).
func (s *Store) Alerts(ctx context.Context, q AlertQuery) ([]*detect.Alert, error) {
	out, _, err := s.alerts(ctx, q)
	return out, err
}

// alerts also reports how many index or alert entries it visited, so tests
// can tell a push-down from a scan.
func (s *Store) alerts(ctx context.Context, q AlertQuery) ([]*detect.Alert, int, error) {
	if err := s.usable(ctx); err != nil {
		return nil, 0, err
	}
	lo, hi := q.timeBounds()
	if lo > hi {
		return nil, 0, nil
	}
	sev := make(map[string]bool, len(q.Severities))
	for _, v := range q.Severities {
		sev[v] = true
	}
	rules := make(map[string]bool, len(q.RuleIDs))
	for _, r := range q.RuleIDs {
		rules[r] = true
	}
	keep := func(a *detect.Alert) bool {
		return a.Time >= lo && a.Time <= hi &&
			(len(sev) == 0 || sev[a.Severity]) &&
			(len(rules) == 0 || rules[a.RuleID])
	}

	var out []*detect.Alert
	visited := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		alerts := tx.Bucket(bucketAlerts)
		load := func(id []byte) (*detect.Alert, error) {
			visited++
			if visited%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			v := alerts.Get(id)
			if v == nil {
				return nil, nil
			}
			a := new(detect.Alert)
			var into any = a
			if q.WithoutEvents {
				into = &alertWithoutEvents{Alert: a}
			}
			if err := json.Unmarshal(v, into); err != nil {
				return nil, fmt.Errorf("decoding alert %q: %w", id, err)
			}
			return a, nil
		}
		switch {
		case len(q.IDs) > 0:
			seen := make(map[string]bool, len(q.IDs))
			for _, id := range q.IDs {
				if seen[id] {
					continue
				}
				seen[id] = true
				a, err := load([]byte(id))
				if err != nil {
					return err
				}
				if a != nil && keep(a) {
					out = append(out, a)
				}
			}
			sortAlerts(out)
		case len(q.RuleIDs) > 0:
			for r := range rules {
				prefix := rulePrefix(r)
				from := make([]byte, len(prefix)+8)
				copy(from, prefix)
				putTime(from[len(prefix):], lo)
				c := tx.Bucket(bucketByRule).Cursor()
				for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+8; k, _ = c.Next() {
					if getTime(k[len(prefix):]) > hi {
						break
					}
					a, err := load(k[len(prefix)+8:])
					if err != nil {
						return err
					}
					if a != nil && keep(a) {
						out = append(out, a)
					}
				}
			}
			sortAlerts(out)
		default:
			from := make([]byte, 8)
			putTime(from, lo)
			c := tx.Bucket(bucketByTime).Cursor()
			for k, _ := c.Seek(from); len(k) >= 8; k, _ = c.Next() {
				if getTime(k) > hi {
					break
				}
				a, err := load(k[8:])
				if err != nil {
					return err
				}
				if a != nil && keep(a) {
					out = append(out, a)
					if q.Limit > 0 && len(out) >= q.Limit {
						break
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, visited, fmt.Errorf("reading alerts: %w", err)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, visited, nil
}

func sortAlerts(as []*detect.Alert) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Time != as[j].Time {
			return as[i].Time < as[j].Time
		}
		return as[i].ID < as[j].ID
	})
}

// RuleCount is how many alerts a rule has in the store and the time of
// its newest one (Unix seconds).
type RuleCount struct {
	Count    int64
	LastTime int64
}

// RuleAlertCounts returns the stored alert count and newest alert time of
// every rule that has alerts. It reads a maintained summary, not the alerts.
func (s *Store) RuleAlertCounts(ctx context.Context) (map[string]RuleCount, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	out := map[string]RuleCount{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			c, last := decodeCount(v)
			out[string(k)] = RuleCount{Count: c, LastTime: last}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading alert counts: %w", err)
	}
	return out, nil
}

// Cursors returns the stored poll cursor of every source table.
func (s *Store) Cursors(ctx context.Context) (map[string]Cursor, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	out := map[string]Cursor{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
			var c Cursor
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decoding cursor of %s: %w", k, err)
			}
			out[string(k)] = c
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading cursors: %w", err)
	}
	return out, nil
}

// Terms returns the whole new-terms history, ordered by rule and key.
func (s *Store) Terms(ctx context.Context) ([]detect.TermEntry, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out []detect.TermEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTerms).ForEach(func(k, v []byte) error {
			t, ok := decodeTerm(v)
			if !ok {
				return fmt.Errorf("malformed new-terms entry %x", k)
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading new-terms history: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// State returns a copy of the named state blob, or nil when there is none.
func (s *Store) State(ctx context.Context, name string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketState).Get([]byte(name)); v != nil {
			body, _, err := unseal(v)
			if err != nil {
				return err
			}
			out = append([]byte{}, body...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading state %s: %w", name, err)
	}
	return out, nil
}

// Info is the store's condition, for detection_health.
type Info struct {
	Path      string
	Alerts    int64 // alerts stored
	Terms     int   // new-terms history entries stored
	SizeBytes int64 // database file size
	OpenResult
}

// Info reports the store's size and how it was opened.
func (s *Store) Info(ctx context.Context) (Info, error) {
	if err := s.usable(ctx); err != nil {
		return Info{}, err
	}
	info := Info{Path: s.path, OpenResult: s.result}
	err := s.db.View(func(tx *bolt.Tx) error {
		info.Alerts = decodeInt(tx.Bucket(bucketMeta).Get(keyAlertCount))
		info.Terms = tx.Bucket(bucketTerms).Stats().KeyN
		return nil
	})
	if err != nil {
		return Info{}, fmt.Errorf("reading store info: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		info.SizeBytes = fi.Size()
	}
	return info, nil
}

// Records calls fn with every record of a namespace, in key order. The
// slices are valid only during the call.
func (s *Store) Records(ctx context.Context, namespace string, fn func(key, value []byte) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords).Bucket([]byte(namespace))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			body, _, err := unseal(v)
			if err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			return fn(k, body)
		})
	})
	if err != nil {
		return fmt.Errorf("reading records of %s: %w", namespace, err)
	}
	return nil
}

// SetCommitHook makes fn run inside every later commit's transaction, after
// its writes and before bbolt writes them out: a fault-injection point for
// crash tests. nil removes it. Not for concurrent use with Commit.
func (s *Store) SetCommitHook(fn func()) { s.inCommit = fn }
