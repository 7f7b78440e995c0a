package detect

import (
	"math/bits"
	"unsafe"
)

// substrIndex finds which of many keys occur inside a text. Keys are
// bucketed by their first two bytes and a bitmap of those pairs lets a
// scan step over most positions with one bit test; a position whose pair
// starts some key compares just those keys. Keys shorter than two bytes
// (lower-casing can shorten one: the Kelvin sign becomes "k") are tried
// one by one. Like keyTrie, it holds case-sensitive and lower-cased keys,
// each on its side.
type substrIndex struct {
	pairs   *[pairWords]uint64 // bit set: some key starts with this byte pair
	buckets map[uint16][]int32 // byte pair -> indices into keys
	short   []int32            // keys shorter than two bytes
	keys    []string
	rules   [][2][]int32 // by key and side: the rule slots it keys
	byKey   map[string]int32

	// The buckets in byte pair order, found by the rank of a pair's bit
	// in pairs: before[w] counts the bits set in the words before w.
	// Built on the first scan after an add.
	ranked [][]int32
	before *[pairWords]uint16
}

const pairWords = 1 << 16 / 64

func pairOf(a, b byte) uint16 { return uint16(a)<<8 | uint16(b) }

// add registers ref under key on side sd.
func (x *substrIndex) add(key string, ref int32, sd side) {
	if x.byKey == nil {
		x.byKey = map[string]int32{}
		x.buckets = map[uint16][]int32{}
		x.pairs = new([pairWords]uint64)
	}
	k, ok := x.byKey[key]
	if !ok {
		k = int32(len(x.keys))
		x.byKey[key] = k
		x.keys = append(x.keys, key)
		x.rules = append(x.rules, [2][]int32{})
		if len(key) < 2 {
			x.short = append(x.short, k)
		} else {
			p := pairOf(key[0], key[1])
			x.pairs[p/64] |= 1 << (p % 64)
			x.buckets[p] = append(x.buckets[p], k)
		}
	}
	if list := x.rules[k][sd]; len(list) == 0 || list[len(list)-1] != ref {
		x.rules[k][sd] = append(list, ref)
	}
	x.ranked, x.before = nil, nil
}

// bucket returns the keys starting with byte pair p, whose bit is set in
// x.pairs.
func (x *substrIndex) bucket(p uint16) []int32 {
	if x.before == nil {
		x.rank()
	}
	w := p / 64
	below := x.pairs[w] & (1<<(p%64) - 1)
	return x.ranked[int(x.before[w])+bits.OnesCount64(below)]
}

// rank lays the buckets out in byte pair order.
func (x *substrIndex) rank() {
	x.before = new([pairWords]uint16)
	x.ranked = x.ranked[:0]
	n := 0
	for w := range x.pairs {
		x.before[w] = uint16(n)
		for word := x.pairs[w]; word != 0; word &= word - 1 {
			p := uint16(w*64 + bits.TrailingZeros64(word))
			x.ranked = append(x.ranked, x.buckets[p])
			n++
		}
	}
}

func (x *substrIndex) empty() bool { return len(x.keys) == 0 }

// unsafeString views b as a string without copying; the caller keeps b
// unchanged while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
