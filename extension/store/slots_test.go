package store

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

func slotsOf(t *testing.T, s *Store, ns string) map[uint32]string {
	t.Helper()
	out := map[uint32]string{}
	prev := int64(-1)
	if err := s.Slots(context.Background(), ns, func(n uint32, v []byte) error {
		if int64(n) <= prev {
			t.Errorf("slot %d after %d", n, prev)
		}
		prev = int64(n)
		out[n] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSlotsAgainstAMap commits random slot changes (puts, overwrites,
// deletes, a slot changed twice in one batch, clears) and compares what
// the store gives back, before and after a reopen, with a map.
func TestSlotsAgainstAMap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[uint32]string{}
	for round := range 200 {
		var b Batch
		if round%50 == 49 {
			b.ClearRecords = []string{"procs"}
			clear(want)
		}
		var list []Slot
		if round%7 == 3 { // whole blocks, some slots twice
			first := uint32(rng.IntN(12)) * SlotsPerBlock
			for n := first; n < first+3*SlotsPerBlock; n++ {
				v := fmt.Sprintf("w%d-%d", round, n)
				list = append(list, Slot{N: n, Value: []byte("old")}, Slot{N: n, Value: []byte(v)})
				want[n] = v
			}
		}
		for range rng.IntN(40) {
			n := uint32(rng.IntN(200))
			if rng.IntN(4) == 0 {
				n = uint32(rng.IntN(1 << 20)) // far apart
			}
			if rng.IntN(5) == 0 {
				list = append(list, Slot{N: n})
				delete(want, n)
				continue
			}
			v := fmt.Sprintf("r%d-s%d-%s", round, n, make([]byte, rng.IntN(300)))
			if rng.IntN(10) == 0 {
				v = "" // empty, not deleted
			}
			list = append(list, Slot{N: n, Value: []byte(v)})
			want[n] = v
		}
		// A second namespace in the same commit (their blocks share the
		// commit's arena), with other values for the same slots.
		more := make([]Slot, len(list))
		wantMore := map[uint32]string{}
		for i, sl := range list {
			more[i] = sl
			if sl.Value != nil {
				more[i].Value = append([]byte("more-"), sl.Value...)
			}
		}
		for n, v := range want {
			wantMore[n] = "more-" + v
		}
		b.Slots = map[string][]Slot{"procs": list, "more": more}
		if b.ClearRecords != nil {
			b.ClearRecords = append(b.ClearRecords, "more")
		}
		mustCommit(t, s, b)
		if got := slotsOf(t, s, "procs"); !maps.Equal(got, want) {
			t.Fatalf("round %d: %d slots stored, want %d", round, len(got), len(want))
		}
		if got := slotsOf(t, s, "more"); !maps.Equal(got, wantMore) {
			t.Fatalf("round %d, second namespace: %d slots stored, want %d", round, len(got), len(wantMore))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir) // the integrity check passes over the blocks
	if got := slotsOf(t, s, "procs"); !maps.Equal(got, want) {
		t.Fatalf("after reopen: %d slots stored, want %d", len(got), len(want))
	}
	if _, err := s.Commit(context.Background(), Batch{Slots: map[string][]Slot{"": {{N: 1, Value: []byte("x")}}}}); err == nil {
		t.Error("slots with an empty namespace were accepted")
	}
}

func TestEachInBlockRejectsBadLayouts(t *testing.T) {
	key := []byte{0, 0, 0, 1} // slots 16..31
	ok := func(n, l uint32, v string) []byte {
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)}, v...)
	}
	for name, body := range map[string][]byte{
		"short header":   {0, 0, 0, 16, 0},
		"long length":    ok(16, 9, "abc"),
		"other block":    ok(3, 1, "a"),
		"not increasing": append(ok(17, 1, "a"), ok(17, 1, "b")...),
	} {
		if err := eachInBlock(key, body, func(uint32, []byte) error { return nil }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := eachInBlock(key, append(ok(16, 1, "a"), ok(31, 0, "")...), func(uint32, []byte) error { return nil }); err != nil {
		t.Errorf("a good block: %v", err)
	}
}
