package normalize

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// The process cache is durable slot by slot: each commit writes only the
// slots changed since the previous one (a journal), and a restart puts every
// entry back into the slot it held, with the clock hand, the use marks and
// the tick, so that a restarted cache is the cache that was running, down to
// which entry it would evict next. The cost of a commit follows the rows
// since the last one, never the size of the cache.

// dirtySlots is a set of cache slots: a bitmap for the test, a list for
// the walk.
type dirtySlots struct {
	bits []uint64
	list []int32
	// cleared is set when the cache was emptied: the stored slots must all
	// be dropped before the listed ones are written.
	cleared bool

	// The last journal's storage, reused by the next (see
	// TakeProcessJournal): the slots in order, their encodings and the
	// list of them.
	order []int32
	buf   []byte
	slots []ProcessSlot
}

func (d *dirtySlots) mark(i int32) {
	w := int(i >> 6)
	if w >= len(d.bits) {
		d.bits = append(d.bits, make([]uint64, w+1-len(d.bits))...)
	}
	b := uint64(1) << (uint(i) & 63)
	if d.bits[w]&b == 0 {
		d.bits[w] |= b
		d.list = append(d.list, i)
	}
}

func (d *dirtySlots) reset() {
	clear(d.bits)
	d.list = d.list[:0]
	d.cleared = true
}

// take returns the marked slots in order, valid until the next take, and
// empties the set.
func (d *dirtySlots) take() (slots []int32, cleared bool) {
	order := d.order[:0]
	if !worthKeeping(cap(order), len(d.list), 4) {
		order = nil
	}
	slots = append(order, d.list...)
	d.order = slots
	slices.Sort(slots)
	for _, i := range d.list {
		d.bits[i>>6] = 0
	}
	if worthKeeping(cap(d.list), len(d.list), 4) {
		d.list = d.list[:0]
	} else {
		d.list = nil
	}
	cleared, d.cleared = d.cleared, false
	return slots, cleared
}

// worthKeeping reports whether storage of capacity have (elements of size
// bytes) is kept for a need of want: a journal of the whole cache (after
// the clock hand cleared every mark, or a restore that converts every
// slot) needs ten or more megabytes once, and the journals after it a
// fraction of that, so storage over four times the need and over 256 KiB
// is let go.
func worthKeeping(have, want, size int) bool {
	return have <= 4*want || have*size <= 256<<10
}

// ProcessSlot is one slot of the process cache, encoded.
type ProcessSlot struct {
	Slot int32
	Data []byte
}

// ProcessJournal is what changed in the process cache since the previous
// TakeProcessJournal.
type ProcessJournal struct {
	// Reset means the cache was replaced as a whole: every stored slot is
	// dropped before Slots are written.
	Reset bool
	// Slots are the changed slots, in slot order.
	Slots []ProcessSlot
	// Clock is the cache's clock (slots in use, hand, tick); it is small
	// and written with every journal.
	Clock []byte
}

// Empty reports whether the journal changes nothing but the clock.
func (j ProcessJournal) Empty() bool { return !j.Reset && len(j.Slots) == 0 }

// slotEntry is a process slot's encoding: the snapshot fields plus the
// clock's per-entry marks.
type slotEntry struct {
	snapshotProc
	LastUse    uint64 `json:"lu"`
	Referenced bool   `json:"r,omitempty"`
}

type cacheClock struct {
	Version int    `json:"v"`
	Used    int32  `json:"used"`
	Hand    int32  `json:"hand"`
	Tick    uint64 `json:"tick"`
}

const journalVersion = 1

// TakeProcessJournal returns the slots changed since the previous call and
// the cache's clock, and starts a new journal. The caller must store them
// together, in one transaction with whatever else the same rows changed.
// The slots and their Data are valid until the next TakeProcessJournal,
// which reuses their storage (a journal is a few hundred kilobytes a
// second under load): a caller that keeps them longer copies them.
func (n *Normalizer) TakeProcessJournal() (ProcessJournal, error) {
	c := n.cache
	slots, cleared := c.dirty.take()
	j := ProcessJournal{Reset: cleared, Slots: c.dirty.slots[:0]}
	per := max(c.slotBytes, 128)
	buf := c.dirty.buf[:0]
	if want := len(slots) * (per + per/8); cap(buf) < want || !worthKeeping(cap(buf), want, 1) {
		buf = make([]byte, 0, want)
	}
	if !worthKeeping(cap(j.Slots), len(slots), int(unsafe.Sizeof(ProcessSlot{}))) {
		j.Slots = nil
	}
	for _, i := range slots {
		if i >= c.used {
			continue
		}
		start := len(buf)
		buf = c.appendSlotBinary(buf, i)
		j.Slots = append(j.Slots, ProcessSlot{Slot: i, Data: buf[start:len(buf):len(buf)]})
	}
	if len(j.Slots) > 0 {
		c.slotBytes = len(buf) / len(j.Slots)
	}
	// A grown buffer left the first slots' Data in the one before: all
	// of them stay valid until the next journal, which takes this one.
	c.dirty.buf, c.dirty.slots = buf, j.Slots
	clock, err := c.encodeClock()
	if err != nil {
		return ProcessJournal{}, err
	}
	j.Clock = clock
	return j, nil
}

// AllProcessSlots returns the clock and every slot of the process cache
// (for a state file written as a whole); the journal is left as it is.
// The slots are JSON (slotEntry), which such a file embeds as it is.
func (n *Normalizer) AllProcessSlots() (clock []byte, slots []ProcessSlot, err error) {
	c := n.cache
	slots = make([]ProcessSlot, 0, c.used)
	for i := int32(0); i < c.used; i++ {
		slots = append(slots, ProcessSlot{Slot: i, Data: c.appendSlot(nil, i)})
	}
	clock, err = c.encodeClock()
	return clock, slots, err
}

func (c *procCache) encodeClock() ([]byte, error) {
	b, err := json.Marshal(cacheClock{Version: journalVersion, Used: c.used, Hand: c.hand, Tick: c.tick})
	if err != nil {
		return nil, fmt.Errorf("encoding process cache clock: %w", err)
	}
	return b, nil
}

// RestoreProcessSlots rebuilds the process cache from a clock and every
// slot it counts, as TakeProcessJournal wrote them. On error the cache is
// left empty. The restored entries are not in the next journal: they are
// stored already.
func (n *Normalizer) RestoreProcessSlots(clock []byte, slots []ProcessSlot) error {
	c := n.cache
	c.reset()
	c.dirty.cleared = false
	fail := func(err error) error {
		c.reset()
		return fmt.Errorf("restoring the process cache: %w", err)
	}
	var ck cacheClock
	if err := json.Unmarshal(clock, &ck); err != nil {
		return fail(fmt.Errorf("clock: %w", err))
	}
	if ck.Version != journalVersion {
		return fail(fmt.Errorf("clock version %d, want %d", ck.Version, journalVersion))
	}
	if ck.Used < 0 || ck.Used > c.max || ck.Hand < 0 || (ck.Used > 0 && ck.Hand >= ck.Used) {
		return fail(fmt.Errorf("clock out of range (used %d, hand %d, capacity %d)", ck.Used, ck.Hand, c.max))
	}
	if len(slots) != int(ck.Used) {
		return fail(fmt.Errorf("%d slots stored, the clock counts %d", len(slots), ck.Used))
	}
	seen := make([]bool, ck.Used)
	for _, s := range slots {
		if s.Slot < 0 || s.Slot >= ck.Used || seen[s.Slot] {
			return fail(fmt.Errorf("slot %d out of range or repeated", s.Slot))
		}
		seen[s.Slot] = true
	}
	for int(ck.Used) > len(c.chunks)*chunkSize {
		c.chunks = append(c.chunks, make([]proc, chunkSize))
	}
	c.used, c.hand, c.tick = ck.Used, ck.Hand, ck.Tick
	var convert []int32
	for _, s := range slots {
		var d decodedSlot
		var err error
		if len(s.Data) > 0 && s.Data[0] == slotBinaryTag {
			d, err = decodeSlotBinary(s.Data)
		} else {
			d, err = decodeSlotJSON(s.Data)
			convert = append(convert, s.Slot)
		}
		if err != nil {
			return fail(fmt.Errorf("slot %d: %w", s.Slot, err))
		}
		if d.host == "" || d.pid < 0 || d.entity == 0 {
			return fail(fmt.Errorf("slot %d: %w", s.Slot, errors.New("needs a host, a pid and an entity id")))
		}
		if _, dup := c.lookup(d.host, d.pid); dup {
			return fail(fmt.Errorf("slot %d: host %s pid %d is in two slots", s.Slot, d.host, d.pid))
		}
		p := c.at(s.Slot)
		// The key keeps the cache's own copy of the host name, never a
		// view of the stored bytes.
		*p = proc{key: procKey{c.host(d.host, true).host, d.pid}, ppid: d.ppid, start: d.start,
			entity: d.entity, parentEntity: d.parentEntity, parentSlot: -1,
			lastUse: d.lastUse, referenced: d.referenced}
		if p.ppid < 0 {
			p.ppid = -1
		}
		p.setImage(d.image)
		c.index(p.key, s.Slot)
	}
	c.dirty.take()
	// Slots stored as JSON (by an earlier version) are written again, in
	// the binary encoding, with the next journal.
	for _, i := range convert {
		c.dirty.mark(i)
	}
	return nil
}

// The journal's encoding of a slot (binary, since JSON cost a commit more
// to write than everything else it stored): a tag byte, slotBinaryTag,
// then
//
//	flags (1 byte: bit 0 the clock's referenced mark)
//	last use (uvarint), pid, ppid, start (varints)
//	entity id, parent entity id (8 bytes each, little-endian; 0 unknown)
//	host, exe, name, cmdline, cwd, uid, gid, euid, egid: each a uvarint
//	length and its bytes (name only when exe is empty; else empty)
//
// and nothing after. A slot written by earlier versions is the JSON of a
// slotEntry: it starts with '{', never with the tag, and still loads.
const slotBinaryTag = 0xb1

const slotReferenced = 1 << 0

// appendSlotBinary appends slot i in the journal's binary encoding.
func (c *procCache) appendSlotBinary(b []byte, i int32) []byte {
	p := c.at(i)
	var flags byte
	if p.referenced {
		flags |= slotReferenced
	}
	b = append(b, slotBinaryTag, flags)
	b = binary.AppendUvarint(b, p.lastUse)
	b = binary.AppendVarint(b, p.key.pid)
	b = binary.AppendVarint(b, p.ppid)
	b = binary.AppendVarint(b, p.start)
	b = binary.LittleEndian.AppendUint64(b, p.entity)
	b = binary.LittleEndian.AppendUint64(b, p.parentEntity)
	name := ""
	if p.exeLen == 0 {
		name = p.name()
	}
	uid, gid, euid, egid := p.ids()
	for _, s := range [...]string{p.key.host, p.exe(), name, p.cmdline(), p.cwd(), uid, gid, euid, egid} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodedSlot is a slot as stored, its strings viewing the stored bytes.
type decodedSlot struct {
	host                 string
	pid, ppid, start     int64
	entity, parentEntity uint64
	lastUse              uint64
	referenced           bool
	image                image
}

var errSlotEncoding = errors.New("not a slot encoding")

// decodeSlotBinary reads a slot written by appendSlotBinary. The strings
// of the result view data, which must not change while they are used.
func decodeSlotBinary(data []byte) (decodedSlot, error) {
	var d decodedSlot
	if len(data) < 2 || data[0] != slotBinaryTag || data[1]&^slotReferenced != 0 {
		return d, errSlotEncoding
	}
	d.referenced = data[1]&slotReferenced != 0
	b := data[2:]
	bad := false
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	varint := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	u64 := func() uint64 {
		if len(b) < 8 {
			bad = true
			return 0
		}
		v := binary.LittleEndian.Uint64(b)
		b = b[8:]
		return v
	}
	str := func() string {
		n := uvarint()
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		if n == 0 {
			return ""
		}
		s := unsafe.String(&b[0], int(n))
		b = b[n:]
		return s
	}
	d.lastUse = uvarint()
	d.pid, d.ppid, d.start = varint(), varint(), varint()
	d.entity, d.parentEntity = u64(), u64()
	im := &d.image
	d.host, im.exe, im.name, im.cmdline, im.cwd = str(), str(), str(), str(), str()
	im.uid, im.gid, im.euid, im.egid = str(), str(), str(), str()
	if bad || len(b) != 0 {
		return decodedSlot{}, errSlotEncoding
	}
	return d, nil
}

// decodeSlotJSON reads a slot written as JSON by earlier versions.
func decodeSlotJSON(data []byte) (decodedSlot, error) {
	var e slotEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return decodedSlot{}, err
	}
	if e.EntityID == "" {
		return decodedSlot{}, errors.New("needs a host, a pid and an entity id")
	}
	return decodedSlot{host: e.Host, pid: e.Pid, ppid: e.PPid, start: e.Start,
		entity: parseEntityID(e.EntityID), parentEntity: parseEntityID(e.ParentEntityID),
		lastUse: e.LastUse, referenced: e.Referenced,
		image: image{exe: e.Exe, name: e.Name, cmdline: e.Cmdline, cwd: e.Cwd,
			uid: e.UID, gid: e.GID, euid: e.EUID, egid: e.EGID}}, nil
}

// Knows reports whether the process cache holds pid of host, without
// touching its use marks.
func (n *Normalizer) Knows(host string, pid int64) bool { return n.cache.peek(host, pid) != nil }

// CacheRoom is how many more processes the cache takes before it evicts.
func (n *Normalizer) CacheRoom() int { return int(n.cache.max) - n.cache.size() }
