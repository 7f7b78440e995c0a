package detect

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestValueMemo follows one memo through its life: it answers values it
// kept, stands aside for memoRest windows after a window with too few
// hits and forgets what it held, never keeps long values, and stops
// keeping at its budget.
func TestValueMemo(t *testing.T) {
	var m valueMemo
	ask := func(s string) ([]int32, memoVerdict) {
		t.Helper()
		slots, v := m.recall(s)
		if v == memoMiss {
			m.keep(s, []int32{int32(len(s)), 7})
		}
		return slots, v
	}

	if _, v := ask("bash"); v != memoMiss {
		t.Fatalf("first lookup of a value: verdict %d, want a miss", v)
	}
	if slots, v := ask("bash"); v != memoHit || !slices.Equal(slots, []int32{4, 7}) {
		t.Fatalf("second lookup: verdict %d slots %v, want a hit with [4 7]", v, slots)
	}
	if _, v := ask(strings.Repeat("x", memoMaxValue+1)); v != memoBypassed {
		t.Fatalf("a value longer than memoMaxValue: verdict %d, want bypassed", v)
	}

	// A window of values never seen before: the memo rests and forgets.
	for i := 0; m.resting == 0; i++ {
		if i > memoWindow {
			t.Fatal("a window of misses did not make the memo rest")
		}
		ask("fresh-" + strconv.Itoa(i))
	}
	if len(m.at) != 0 || m.size != 0 {
		t.Fatalf("a resting memo holds %d values (%d bytes), want none", len(m.at), m.size)
	}
	for i := 0; i < memoRest*memoWindow; i++ {
		if _, v := ask("bash"); v != memoBypassed {
			t.Fatalf("lookup %d while resting: verdict %d, want bypassed", i, v)
		}
	}
	if _, v := ask("bash"); v != memoMiss {
		t.Fatalf("after resting: verdict %d, want a miss (the memo forgot bash)", v)
	}

	// Values that repeat keep it working: a window with half hits is good.
	m = valueMemo{}
	for i := 0; i < 2*memoWindow; i++ {
		ask("v" + strconv.Itoa(i/2))
		if m.resting != 0 {
			t.Fatalf("lookup %d: a memo with half its lookups hits rests", i)
		}
	}

	// The budget: keep stops adding once the next value would exceed it.
	m = valueMemo{}
	for i := 0; ; i++ {
		s := "value-" + strconv.Itoa(i)
		if _, v := m.recall(s); v != memoMiss {
			t.Fatalf("value %d: verdict %d, want a miss", i, v)
		}
		before := m.size
		m.keep(s, make([]int32, 20))
		if m.size > memoBudget {
			t.Fatalf("memo holds %d bytes, budget %d", m.size, memoBudget)
		}
		if m.size == before {
			if before+len(s)+4*20+memoEntryCost <= memoBudget {
				t.Fatalf("value %d not kept with %d of %d bytes held", i, before, memoBudget)
			}
			break
		}
		if _, v := m.recall(s); v != memoHit {
			t.Fatalf("value %d just kept: verdict %d, want a hit", i, v)
		}
	}
}

// TestValueMemoFront checks the direct-mapped table before the map: values
// that share its entries (more values than it has) each get their own
// slots, whichever was met last, and none outlives a forget.
func TestValueMemoFront(t *testing.T) {
	var m valueMemo
	values := []string{"", "a", "sh", "bash", "python3", "/usr/bin/python3", "/usr/bin/python3.11"}
	// More values than the front table holds, few enough that a window
	// of their misses and hits does not make the memo rest.
	for i := 0; len(values) < memoWindow/2-10; i++ {
		values = append(values, "proc-"+strconv.Itoa(i))
	}
	slotsOf := func(k int) []int32 { return []int32{int32(k), int32(len(values[k]))} }
	for k, s := range values {
		if _, v := m.recall(s); v != memoMiss {
			t.Fatalf("first lookup of %q: verdict %d, want a miss", s, v)
		}
		m.keep(s, slotsOf(k))
	}
	for round := 0; round < 2; round++ {
		for k := len(values) - 1; k >= 0; k -= 1 + round {
			slots, v := m.recall(values[k])
			if v != memoHit || !slices.Equal(slots, slotsOf(k)) {
				t.Fatalf("round %d, %q: verdict %d slots %v, want a hit with %v", round, values[k], v, slots, slotsOf(k))
			}
		}
	}
	m.forget()
	m.lookups, m.hits = 0, 0
	for _, s := range values[:10] {
		if _, v := m.recall(s); v != memoMiss {
			t.Fatalf("%q after forget: verdict %d, want a miss", s, v)
		}
	}
}
