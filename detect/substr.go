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
	ranked [][]substrCand
	before *[pairWords]uint16
}

// substrCand is a key of a bucket with its first bytes (up to eight, the
// first in the low byte) and a mask of them, so that a scan tells most
// candidates that do not match from one masked compare of the text's next
// eight bytes.
type substrCand struct {
	head, mask uint64
	key        int32
	long       bool // the key is longer than eight bytes: head is not all of it
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
func (x *substrIndex) bucket(p uint16) []substrCand {
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
			var cands []substrCand
			for _, k := range x.buckets[p] {
				cands = append(cands, candOf(x.keys[k], k))
			}
			x.ranked = append(x.ranked, cands)
			n++
		}
	}
}

// candOf returns key k's candidate entry.
func candOf(key string, k int32) substrCand {
	c := substrCand{key: k, long: len(key) > 8}
	for i := 0; i < len(key) && i < 8; i++ {
		c.head |= uint64(key[i]) << (8 * i)
		c.mask |= 0xff << (8 * i)
	}
	return c
}

// head8 returns the first eight bytes of s, the first in the low byte;
// s holds at least eight.
func head8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
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
