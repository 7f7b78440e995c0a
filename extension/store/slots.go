package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// SlotsPerBlock is how many consecutive slots share one stored value.
// Sixteen process cache entries (a few hundred bytes each) make a value of
// about a page: a commit that changes many neighbouring slots (a burst of
// new processes fills consecutive ones) writes one value per sixteen
// instead of one per slot, and a commit that changes a lone slot rewrites
// about the page bbolt would rewrite for it anyway.
const SlotsPerBlock = 16

// Slot is one numbered value of a slot namespace (see Batch.Slots).
type Slot struct {
	N     uint32
	Value []byte // nil deletes the slot
}

// A block is the bbolt value of SlotsPerBlock consecutive slots, keyed by
// the first slot's number / SlotsPerBlock (4 bytes, big-endian), sealed
// like every record: its slots in increasing order, each as slot (4
// bytes), length (4 bytes) and value.

func blockKey(n uint32) [4]byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], n/SlotsPerBlock)
	return k
}

var errBadBlock = errors.New("unreadable slot block")

// eachInBlock calls fn with every slot of a block's body, checking its
// layout: slots increasing and all of the block keyed by key.
func eachInBlock(key, body []byte, fn func(n uint32, v []byte) error) error {
	if len(key) != 4 {
		return errBadBlock
	}
	block := binary.BigEndian.Uint32(key)
	prev := int64(-1)
	for len(body) > 0 {
		if len(body) < 8 {
			return errBadBlock
		}
		n, l := binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
		if n/SlotsPerBlock != block || int64(n) <= prev || uint64(l) > uint64(len(body)-8) {
			return errBadBlock
		}
		if err := fn(n, body[8:8+l]); err != nil {
			return err
		}
		prev = int64(n)
		body = body[8+l:]
	}
	return nil
}

// putSlots applies one namespace's slot changes (later changes of a slot
// win), block by block: each changed block is read, merged and written
// back as one value. The values are appended to arena (or to a new one
// when it lacks room), whose storage the transaction holds until it ends;
// putSlots returns it, for the next namespace of the same transaction to
// append to and for a later transaction to reuse.
func putSlots(b *bolt.Bucket, changes []Slot, arena []byte) ([]byte, error) {
	bySlot := func(a, b Slot) int {
		switch {
		case a.N < b.N:
			return -1
		case a.N > b.N:
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(changes, bySlot) {
		changes = slices.Clone(changes)
		slices.SortStableFunc(changes, bySlot)
	}
	// The values stay referenced by bbolt until the transaction is
	// written: one arena for all of them (a grown arena leaves the
	// earlier values where they were).
	size := 0
	for _, c := range changes {
		size += 8 + len(c.Value)
	}
	if want := size + size/8 + 64; cap(arena)-len(arena) < want {
		arena = make([]byte, 0, want)
	}
	for len(changes) > 0 {
		key := blockKey(changes[0].N)
		end := 1
		for end < len(changes) && changes[end].N/SlotsPerBlock == changes[0].N/SlotsPerBlock {
			end++
		}
		block := changes[:end]
		changes = changes[end:]

		start := len(arena)
		put := func(n uint32, v []byte) {
			arena = binary.BigEndian.AppendUint32(arena, n)
			arena = binary.BigEndian.AppendUint32(arena, uint32(len(v)))
			arena = append(arena, v...)
		}
		// next puts block's last change of each slot before slot upto.
		i := 0
		next := func(upto int64) {
			for i < len(block) && int64(block[i].N) < upto {
				j := i
				for j+1 < len(block) && block[j+1].N == block[i].N {
					j++
				}
				if block[j].Value != nil {
					put(block[j].N, block[j].Value)
				}
				i = j + 1
			}
		}
		distinct := 0
		for k := range block {
			if k == 0 || block[k].N != block[k-1].N {
				distinct++
			}
		}
		// A block whose every slot changes is written without reading it.
		var old []byte
		if distinct < SlotsPerBlock {
			old = b.Get(key[:])
		}
		if old != nil {
			body, _, err := unseal(old)
			if err != nil {
				return arena, fmt.Errorf("slot block %x: %w", key, err)
			}
			err = eachInBlock(key[:], body, func(n uint32, v []byte) error {
				next(int64(n))
				if i < len(block) && block[i].N == n {
					return nil // changed: next writes it
				}
				put(n, v)
				return nil
			})
			if err != nil {
				return arena, fmt.Errorf("slot block %x: %w", key, err)
			}
		}
		next(1 << 32)
		if len(arena) == start {
			if err := b.Delete(key[:]); err != nil {
				return arena, err
			}
			continue
		}
		crc := crc32.Checksum(arena[start:], castagnoli)
		arena = binary.BigEndian.AppendUint32(arena, crc)
		arena = append(arena, sealMarker)
		if err := b.Put(key[:], arena[start:len(arena):len(arena)]); err != nil {
			return arena, err
		}
	}
	return arena, nil
}

// Slots calls fn with every slot of a slot namespace (see Batch.Slots), in
// slot order. The value is valid only during the call.
func (s *Store) Slots(ctx context.Context, namespace string, fn func(n uint32, value []byte) error) error {
	return s.Records(ctx, namespace, func(k, body []byte) error {
		if err := eachInBlock(k, body, fn); err != nil {
			return fmt.Errorf("slot block %x: %w", k, err)
		}
		return nil
	})
}
