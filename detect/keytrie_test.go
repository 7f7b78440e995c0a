package detect

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// TestKeyIndexAgainstBruteForce: the tries and the substring index find
// exactly the keys a direct comparison of every key finds, over random
// keys and values from a small alphabet (so that keys share prefixes and
// nodes grow dense). Keys are case-sensitive or folded (lower-case, met
// by the value lower-cased), and values mix cases, so that both sides of
// one index are tried on one value and on its lowered copy. Half the
// values repeat earlier ones, so that the field's memo answers many of
// them, fills up, and (when too few repeat in a window) rests.
func TestKeyIndexAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	word := func(max int, alphabet string) string {
		var b strings.Builder
		for n := rng.Intn(max + 1); n > 0; n-- {
			b.WriteByte(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	const lower, mixed = "abcdefghijklmnop/-.", "abcdefghABCDEFGH/-."
	type key struct {
		text string
		kind int // 0 exact, 1 prefix, 2 suffix, 3 contains
		fold bool
	}
	for _, sidesUsed := range []string{"case-sensitive", "folded", "both"} {
		t.Run(sidesUsed, func(t *testing.T) {
			var keys []key
			ix := &indexedField{}
			for i := 0; i < 400; i++ {
				kk := key{kind: rng.Intn(4), fold: sidesUsed == "folded" || (sidesUsed == "both" && rng.Intn(2) == 0)}
				kk.text = word(6, mixed)
				sd := caseSensitive
				if kk.fold {
					kk.text, sd = strings.ToLower(kk.text), caseFolded
				}
				ix.sides |= 1 << sd
				slot := int32(len(keys)) << slotBits
				keys = append(keys, kk)
				switch kk.kind {
				case 0:
					ix.keys.forward.insert(kk.text, slot, true, false, sd)
				case 1:
					ix.keys.forward.insert(kk.text, slot, false, false, sd)
				case 2:
					ix.keys.backward.insert(kk.text, slot, false, true, sd)
				case 3:
					ix.keys.contains.add(kk.text, slot, sd)
				}
			}
			d := &dispatch{}
			for i := range keys {
				d.targets = append(d.targets, target{rule: int32(i), steps: 1, need: 1})
			}
			d.steps, d.seen = make([]uint64, len(keys)), make([]uint64, len(keys))
			var seen []string
			hits, rested, filled := 0, false, false
			for i := 0; i < 12000; i++ {
				v := word(10, lower)
				switch {
				case i >= 600 && i < 1200: // fresh values only: the memo rests
				case i%4 != 0 && len(seen) > 0:
					v = seen[rng.Intn(len(seen))]
				case i%2 == 1:
					v = word(10, mixed)
				}
				if len(seen) < 300 {
					seen = append(seen, v)
				}
				d.gen++
				d.picked = d.picked[:0]
				if _, ok := ix.memo.at[v]; ok && ix.memo.resting == 0 {
					hits++
				}
				d.recallValue(ix, v)
				if ix.memo.resting > 0 {
					rested = true
				}
				if ix.memo.size+memoEntryCost+10+4*len(d.recorded) > memoBudget {
					filled = true
				}
				got := append([]int32(nil), d.picked...)
				sort.Slice(got, func(a, b int) bool { return got[a] < got[b] })
				var want []int32
				for j, kk := range keys {
					hit, w := false, v
					if kk.fold {
						w = strings.ToLower(v)
					}
					switch kk.kind {
					case 0:
						hit = w == kk.text
					case 1:
						hit = strings.HasPrefix(w, kk.text)
					case 2:
						hit = strings.HasSuffix(w, kk.text)
					case 3:
						hit = strings.Contains(w, kk.text)
					}
					if hit {
						want = append(want, int32(j))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("value %q: index found keys %v, direct comparison %v", v, got, want)
				}
			}
			if hits < 2000 || !rested || !filled {
				t.Fatalf("the memo answered %d values, rested %v, filled %v: want thousands, true, true", hits, rested, filled)
			}
		})
	}
}
