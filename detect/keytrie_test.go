package detect

import (
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// TestKeyIndexAgainstBruteForce: the tries and the substring index find
// exactly the keys a direct comparison of every key finds, over random
// keys and values from a small alphabet (so that keys share prefixes and
// nodes grow dense).
func TestKeyIndexAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	word := func(max int) string {
		var b strings.Builder
		for n := rng.Intn(max + 1); n > 0; n-- {
			b.WriteByte("abcdefghijklmnop/-."[rng.Intn(19)])
		}
		return b.String()
	}
	type key struct {
		text string
		kind int // 0 exact, 1 prefix, 2 suffix, 3 contains
	}
	var keys []key
	var k keyIndex
	for i := 0; i < 400; i++ {
		kk := key{text: word(6), kind: rng.Intn(4)}
		slot := int32(len(keys)) << slotBits
		keys = append(keys, kk)
		switch kk.kind {
		case 0:
			k.forward.insert(kk.text, slot, true, false)
		case 1:
			k.forward.insert(kk.text, slot, false, false)
		case 2:
			k.backward.insert(kk.text, slot, false, true)
		case 3:
			k.contains.add(kk.text, slot)
		}
	}
	d := &dispatch{}
	for i := range keys {
		d.targets = append(d.targets, target{rule: int32(i), steps: 1, need: 1})
	}
	d.stamp, d.mask = make([]uint64, len(keys)), make([]uint8, len(keys))
	d.steps, d.seen = make([]uint64, len(keys)), make([]uint64, len(keys))
	for i := 0; i < 3000; i++ {
		v := word(10)
		d.gen++
		d.picked = d.picked[:0]
		d.lookup(&k, v)
		got := append([]int32(nil), d.picked...)
		sort.Slice(got, func(a, b int) bool { return got[a] < got[b] })
		var want []int32
		for j, kk := range keys {
			hit := false
			switch kk.kind {
			case 0:
				hit = v == kk.text
			case 1:
				hit = strings.HasPrefix(v, kk.text)
			case 2:
				hit = strings.HasSuffix(v, kk.text)
			case 3:
				hit = strings.Contains(v, kk.text)
			}
			if hit {
				want = append(want, int32(j))
			}
		}
		if len(got) != len(want) {
			t.Fatalf("value %q: index found keys %v, direct comparison %v", v, got, want)
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("value %q: index found keys %v, direct comparison %v", v, got, want)
			}
		}
	}
}
