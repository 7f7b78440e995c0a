package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneChunk is the most deletions per transaction, so that pruning a
// large backlog neither holds the write lock long nor builds a huge
// transaction in memory.
const pruneChunk = 5000

// Prune deletes alerts whose time is before now-maxAge, then the oldest
// alerts beyond maxCount. A zero maxAge or maxCount disables that bound.
// It returns how many alerts were deleted. Run it periodically: Commit
// does not prune.
func (s *Store) Prune(ctx context.Context, now time.Time, maxAge time.Duration, maxCount int) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	deleted := 0
	if maxAge > 0 {
		// Alerts with time < cutoff go.
		cutoff := int64(math.MinInt64)
		if age := int64(maxAge / time.Second); now.Unix() > math.MinInt64+age {
			cutoff = now.Unix() - age
		}
		for {
			n, err := s.deleteOldest(ctx, func(t int64, _ int64) bool { return t < cutoff })
			deleted += n
			if err != nil {
				return deleted, err
			}
			if n < pruneChunk {
				break
			}
		}
	}
	if maxCount > 0 {
		for {
			n, err := s.deleteOldest(ctx, func(_ int64, total int64) bool { return total > int64(maxCount) })
			deleted += n
			if err != nil {
				return deleted, err
			}
			if n < pruneChunk {
				break
			}
		}
	}
	return deleted, nil
}

// deleteOldest deletes up to pruneChunk alerts in time order while
// doomed(time, current total) holds, in one transaction.
func (s *Store) deleteOldest(ctx context.Context, doomed func(t, total int64) bool) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		w := writer{tx: tx}
		total := decodeInt(tx.Bucket(bucketMeta).Get(keyAlertCount))
		type victim struct {
			rule, id string
			t        int64
		}
		var victims []victim
		c := tx.Bucket(bucketByTime).Cursor()
		for k, v := c.First(); k != nil && len(victims) < pruneChunk; k, v = c.Next() {
			if len(k) < 8 {
				continue
			}
			t := getTime(k)
			if !doomed(t, total-int64(len(victims))) {
				break
			}
			victims = append(victims, victim{rule: string(v), id: string(k[8:]), t: t})
		}
		for _, vi := range victims {
			if err := w.deleteAlert(vi.rule, vi.t, vi.id); err != nil {
				return fmt.Errorf("deleting alert %s: %w", vi.id, err)
			}
		}
		n = len(victims)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pruning alerts: %w", err)
	}
	return n, nil
}

// PruneTerms deletes new-terms history entries last seen before the given
// Unix millisecond time, and returns how many it deleted. The engine keeps
// its own bounded history; this keeps the stored copy from outgrowing it.
func (s *Store) PruneTerms(ctx context.Context, before int64) (int, error) {
	deleted := 0
	for {
		if err := s.usable(ctx); err != nil {
			return deleted, err
		}
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketTerms)
			var doomed [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if len(doomed) >= pruneChunk {
					return nil
				}
				if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) < before {
					doomed = append(doomed, append([]byte{}, k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(doomed)
			return nil
		})
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("pruning new-terms history: %w", err)
		}
		if n < pruneChunk {
			return deleted, nil
		}
	}
}
