package detect

// valueMemo remembers, for the values of one indexed field seen lately,
// the slots their lookup met, so that a value seen again costs one hash
// lookup instead of two trie walks and a substring scan (and most often
// only one compare, in a small direct-mapped table in front of the map). Process names,
// executables, parents and most arguments repeat endlessly in a host's
// events; command lines often do not, so a memo judges its own hit rate
// every memoWindow lookups and, when too few hit, forgets everything and
// stands aside for memoRest windows before it tries again.
//
// A memo holds at most memoBudget bytes by its own measure (the values'
// bytes, their slots, and memoEntryCost per entry; the map and the arrays
// behind it, which grow by doubling, take up to about twice that); when
// full it keeps what it has and remembers nothing new until it next
// forgets.
type valueMemo struct {
	at    map[string]int32 // value -> its entry
	ents  []memoEntry
	front *[memoFront]int32 // by frontOf the value: 1 + an entry lately met, 0 none
	slots []int32
	text  []byte // the remembered values' bytes, which at's keys view
	size  int

	lookups, hits int // in the current window
	resting       int // windows left to stand aside
}

const (
	memoBudget    = 32 << 10 // bytes one field's memo may hold
	memoMaxValue  = 512      // longer values are never remembered
	memoEntryCost = 48       // a map entry's own bytes, about
	memoWindow    = 512      // lookups between judgements of the hit rate
	memoRest      = 16       // windows a memo stands aside after a poor one
	memoFront     = 128      // entries of the direct-mapped table before the map
)

// memoEntry is one remembered value: key views the memo's text, at is
// first<<32 | end of its slots in slots.
type memoEntry struct {
	key string
	at  uint64
}

// frontOf is a cheap hash of s (its length and first and last eight
// bytes) into the front table: most values recalled are a few names met
// over and over, and one compare of a value there costs less than a map
// lookup, which hashes all of s and probes.
func frontOf(s string) uint32 {
	var h uint64
	if len(s) >= 8 {
		h = head8(s) ^ head8(s[len(s)-8:])*0x9e3779b97f4a7c15
	} else {
		for i := 0; i < len(s); i++ {
			h = h<<8 | uint64(s[i])
		}
	}
	h = (h ^ uint64(len(s))) * 0xff51afd7ed558ccd
	return uint32(h>>57) % memoFront
}

// memoVerdict says what recall found.
type memoVerdict uint8

const (
	memoHit      memoVerdict = iota // slots holds what s meets
	memoMiss                        // look s up and keep what it meets
	memoBypassed                    // look s up; the memo keeps nothing
)

// recall returns the slots remembered for s, or tells whether to keep
// what looking s up meets.
func (m *valueMemo) recall(s string) ([]int32, memoVerdict) {
	m.lookups++
	if m.resting > 0 {
		if m.lookups == memoWindow {
			m.lookups = 0
			m.resting--
		}
		return nil, memoBypassed
	}
	var at uint64
	found := false
	if m.front != nil {
		fr := &m.front[frontOf(s)]
		if *fr != 0 && m.ents[*fr-1].key == s {
			at, found = m.ents[*fr-1].at, true
		} else if e, ok := m.at[s]; ok {
			at, found = m.ents[e].at, true
			*fr = e + 1
		}
	}
	if found {
		// A judgement that forgets leaves the slots where they are until
		// the next keep, so these stay valid for the caller.
		slots := m.slots[at>>32 : uint32(at) : uint32(at)]
		m.hits++
		m.judge()
		return slots, memoHit
	}
	m.judge()
	if len(s) > memoMaxValue || m.resting > 0 {
		return nil, memoBypassed
	}
	return nil, memoMiss
}

// judge ends a window: with fewer than half its lookups hits, the memo
// forgets everything and rests.
func (m *valueMemo) judge() {
	if m.lookups < memoWindow {
		return
	}
	if m.hits*2 < m.lookups {
		m.forget()
		m.resting = memoRest
	}
	m.lookups, m.hits = 0, 0
}

// keep remembers that s meets slots, unless the memo is full.
func (m *valueMemo) keep(s string, slots []int32) {
	cost := len(s) + 4*len(slots) + memoEntryCost
	if m.size+cost > memoBudget {
		return
	}
	if m.at == nil {
		m.at = make(map[string]int32)
		m.front = new([memoFront]int32)
	}
	m.size += cost
	first := len(m.slots)
	m.slots = append(m.slots, slots...)
	// Earlier keys keep viewing the old array when append moves text.
	start := len(m.text)
	m.text = append(m.text, s...)
	key := unsafeString(m.text[start:len(m.text):len(m.text)])
	m.at[key] = int32(len(m.ents))
	m.ents = append(m.ents, memoEntry{key, uint64(first)<<32 | uint64(len(m.slots))})
}

// forget drops every remembered value.
func (m *valueMemo) forget() {
	clear(m.at)
	if m.front != nil {
		clear(m.front[:])
	}
	clear(m.ents) // let go of the keys, which view the old text
	m.ents, m.slots, m.text, m.size = m.ents[:0], m.slots[:0], m.text[:0], 0
}
