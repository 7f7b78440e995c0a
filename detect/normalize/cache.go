package normalize

import (
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// procKey names a process slot: a pid on a host.
type procKey struct {
	host string
	pid  int64
}

// proc is what the cache knows about one process: its identity and its
// current image. It is laid out compactly (issue: a host keeps 100,000
// live processes): entity ids are kept as their 64-bit hashes and rendered
// only into events, the image's seven strings share one allocation owned
// by the cache (never a string of the row that revealed them, which may
// share its memory with a whole batch of rows), and the arguments are
// split on demand through the normalizer's small cache of split command
// lines instead of being kept per process.
type proc struct {
	// The fields every lookup touches come first, so that a lookup of a
	// process not in the CPU cache loads as few cache lines as possible.
	key          procKey
	ppid         int64  // -1 when unknown
	lastUse      uint64 // the cache's tick at the last use, for ordering snapshots
	entity       uint64 // entity id hash; never 0
	parentEntity uint64 // the parent's entity id hash; 0 when unknown
	parentSlot   int32  // where the parent was last found; -1 unknown
	referenced   bool   // used since the clock hand last passed

	start int64 // unix seconds the process began (or was first seen)
	// img holds exe, cmdline, cwd, uid, gid, euid, egid and name back to
	// back; name only when exe is empty (the name is exe's base name).
	img                                       string
	exeLen, cmdLen, cwdLen                    uint32
	uidLen, gidLen, euidLen, egidLen, nameLen uint16
	// exeBase is the length of exe's base name when it is short enough
	// (0 otherwise): name then needs no scan of exe, whose bytes a lookup
	// of a process not in the CPU cache would have to load.
	exeBase uint16
}

// image is a process's executable, command line, working directory and
// ids, as strings.
type image struct {
	exe, cmdline, cwd    string
	uid, gid, euid, egid string
	name                 string // kept only when exe is ""
}

func (p *proc) exe() string { return p.img[:p.exeLen] }

func (p *proc) name() string {
	if p.exeBase > 0 {
		return p.img[p.exeLen-uint32(p.exeBase) : p.exeLen]
	}
	if p.exeLen > 0 {
		return baseName(p.exe())
	}
	return p.img[len(p.img)-int(p.nameLen):]
}

func (p *proc) cmdline() string {
	o := p.exeLen
	return p.img[o : o+p.cmdLen]
}

func (p *proc) cwd() string {
	o := p.exeLen + p.cmdLen
	return p.img[o : o+p.cwdLen]
}

func (p *proc) ids() (uid, gid, euid, egid string) {
	o := p.exeLen + p.cmdLen + p.cwdLen
	s := p.img[o:]
	uid, s = s[:p.uidLen], s[p.uidLen:]
	gid, s = s[:p.gidLen], s[p.gidLen:]
	euid, s = s[:p.euidLen], s[p.euidLen:]
	egid = s[:p.egidLen]
	return
}

// image returns the process's image.
func (p *proc) image() image {
	im := image{exe: p.exe(), cmdline: p.cmdline(), cwd: p.cwd()}
	im.uid, im.gid, im.euid, im.egid = p.ids()
	if p.exeLen == 0 {
		im.name = p.name()
	}
	return im
}

// maxIDLen bounds an id string kept by the cache (ids are decimal numbers;
// a longer one is cut, as it can only be garbage).
const maxIDLen = 1<<16 - 1

// maxImageText bounds the executable, command line and working directory
// kept by the cache, each (osquery's own cmdline is far shorter).
const maxImageText = 1 << 20

// setImage replaces the process's image, copying the strings into one
// allocation of the cache's own; an unchanged image costs nothing.
func (p *proc) setImage(im image) {
	cut := func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	}
	im.exe, im.cmdline, im.cwd = cut(im.exe, maxImageText), cut(im.cmdline, maxImageText), cut(im.cwd, maxImageText)
	im.uid, im.gid, im.euid, im.egid = cut(im.uid, maxIDLen), cut(im.gid, maxIDLen), cut(im.euid, maxIDLen), cut(im.egid, maxIDLen)
	if im.exe != "" {
		im.name = ""
	}
	im.name = cut(im.name, maxIDLen)
	if p.img != "" && p.image() == im {
		return
	}
	n := len(im.exe) + len(im.cmdline) + len(im.cwd) + len(im.uid) + len(im.gid) + len(im.euid) + len(im.egid) + len(im.name)
	if n == 0 {
		*p = proc{key: p.key, ppid: p.ppid, lastUse: p.lastUse, entity: p.entity, parentEntity: p.parentEntity,
			parentSlot: p.parentSlot, referenced: p.referenced, start: p.start}
		return
	}
	b := make([]byte, 0, n)
	b = append(b, im.exe...)
	b = append(b, im.cmdline...)
	b = append(b, im.cwd...)
	b = append(b, im.uid...)
	b = append(b, im.gid...)
	b = append(b, im.euid...)
	b = append(b, im.egid...)
	b = append(b, im.name...)
	p.img = unsafe.String(&b[0], n)
	p.exeLen, p.cmdLen, p.cwdLen = uint32(len(im.exe)), uint32(len(im.cmdline)), uint32(len(im.cwd))
	p.uidLen, p.gidLen, p.euidLen, p.egidLen = uint16(len(im.uid)), uint16(len(im.gid)), uint16(len(im.euid)), uint16(len(im.egid))
	p.nameLen = uint16(len(im.name))
	p.exeBase = 0
	if base := baseName(im.exe); len(base) <= maxIDLen {
		p.exeBase = uint16(len(base))
	}
}

const chunkBits = 10
const chunkSize = 1 << chunkBits

// procCache is a bounded cache of processes keyed by (host, pid), evicting
// with the CLOCK approximation of LRU: a use only sets a bit on the entry
// (no list to relink, so no other entry is touched on the hot path), and
// eviction sweeps a hand that spares entries used since its last pass.
// Entries live in fixed-size chunks so that pointers to them stay valid
// while the cache grows; a pointer is valid until the entry is evicted.
type procCache struct {
	hosts  map[string]*hostProcs
	last   *hostProcs // the host of the last lookup: rows come in runs of one host
	count  int        // entries across every host
	chunks [][]proc
	used   int32
	max    int32
	hand   int32  // next eviction candidate
	tick   uint64 // counts uses

	hits, misses, evictions uint64

	// found is the last lookup's answer, for a put of the same key right
	// after it (a get that missed, or found a reused pid): the index has
	// not changed since (index and remove forget it).
	found struct {
		h     *hostProcs
		pid   int64
		i     int32
		ok    bool
		valid bool
	}

	// dirty remembers the slots changed since the last takeDirty, so that
	// durable state follows only what changed (see journal.go).
	dirty dirtySlots
	// slotBytes is the mean size of the last journal's slot encodings, to
	// size the next one's buffer.
	slotBytes int
	// warmSink keeps warm's loads from being optimized away (a cache's
	// own: caches of other engines warm at the same time).
	warmSink uint64
}

// hostProcs indexes the entries of one host by pid, so that a lookup hashes
// the host once per row and then only an integer.
type hostProcs struct {
	host string
	pids map[int64]int32
}

func newProcCache(max int) *procCache {
	if max < 1 {
		max = 1
	}
	if max > 1<<30 {
		max = 1 << 30
	}
	return &procCache{hosts: make(map[string]*hostProcs), max: int32(max)}
}

func (c *procCache) at(i int32) *proc {
	return &c.chunks[i>>chunkBits][i&(chunkSize-1)]
}

func (c *procCache) size() int { return c.count }

// host returns the index of host's entries, or nil when it has none and
// create is false.
func (c *procCache) host(host string, create bool) *hostProcs {
	if h := c.last; h != nil && h.host == host {
		return h
	}
	h := c.hosts[host]
	if h == nil {
		if !create {
			return nil
		}
		h = &hostProcs{host: strings.Clone(host), pids: make(map[int64]int32)}
		c.hosts[h.host] = h // the map keeps the copy, not the caller's string
	}
	c.last = h
	return h
}

// lookup returns the slot of (host, pid).
func (c *procCache) lookup(host string, pid int64) (int32, bool) {
	h := c.host(host, false)
	if h == nil {
		return 0, false
	}
	if f := &c.found; f.valid && f.h == h && f.pid == pid {
		return f.i, f.ok
	}
	i, ok := h.pids[pid]
	c.found.h, c.found.pid, c.found.i, c.found.ok, c.found.valid = h, pid, i, ok, true
	return i, ok
}

// remove drops key from the index, and its host when that was its last
// entry, so that hosts that come and go do not pile up.
func (c *procCache) remove(key procKey) {
	h := c.host(key.host, false)
	if h == nil {
		return
	}
	c.found.valid = false
	before := len(h.pids)
	delete(h.pids, key.pid)
	c.count -= before - len(h.pids)
	if len(h.pids) == 0 {
		delete(c.hosts, h.host)
		if c.last == h {
			c.last = nil
		}
	}
}

// get returns the process and marks it recently used, or nil. It counts a
// hit or a miss.
func (c *procCache) get(host string, pid int64) *proc {
	i, ok := c.lookup(host, pid)
	if !ok {
		c.misses++
		return nil
	}
	return c.use(i)
}

// use marks entry i recently used, counts a hit and returns it.
func (c *procCache) use(i int32) *proc {
	c.hits++
	c.tick++
	p := c.at(i)
	p.lastUse = c.tick
	p.referenced = true
	c.dirty.mark(i)
	return p
}

// parentOf returns p's parent entry, found by the slot p remembers (no map
// lookup) when that slot still holds the same process, else by (host,
// ppid). It marks the parent recently used.
func (c *procCache) parentOf(p *proc) *proc {
	if s := p.parentSlot; s >= 0 && s < c.used {
		par := c.at(s)
		if par.key.pid == p.ppid && par.entity == p.parentEntity && par.key.host == p.key.host {
			return c.use(s)
		}
	}
	i, ok := c.lookup(p.key.host, p.ppid)
	if !ok {
		c.misses++
		return nil
	}
	p.parentSlot = i
	return c.use(i)
}

// peek returns the process without touching recency or counters.
func (c *procCache) peek(host string, pid int64) *proc {
	if i, ok := c.lookup(host, pid); ok {
		return c.at(i)
	}
	return nil
}

// put returns a zeroed entry for (host, pid), replacing an existing one or
// evicting an entry not used since the clock hand last passed when the
// cache is full.
func (c *procCache) put(host string, pid int64) *proc {
	// The key keeps the cache's own copy of the host name, never the
	// row's string.
	key := procKey{c.host(host, true).host, pid}
	i, ok := c.lookup(host, pid)
	switch {
	case ok:
	case c.used < c.max:
		i = c.used
		c.used++
		if int(i>>chunkBits) >= len(c.chunks) {
			c.chunks = append(c.chunks, make([]proc, chunkSize))
		}
		c.index(key, i)
	default:
		i = c.victim()
		c.remove(c.at(i).key)
		c.evictions++
		c.index(key, i)
	}
	c.tick++
	p := c.at(i)
	// A new entry starts unmarked: the clock hand spares it on its next
	// pass only if it was used since. Marked, every entry the hand came
	// to after a run of new processes would be marked, so one pass
	// would clear (and journal) the whole cache at once.
	*p = proc{key: key, ppid: -1, parentSlot: -1, lastUse: c.tick}
	c.dirty.mark(i)
	return p
}

// index records that slot i holds key.
func (c *procCache) index(key procKey, i int32) {
	c.found.valid = false
	c.host(key.host, true).pids[key.pid] = i
	c.count++
}

// victim advances the clock hand to an entry not used since the hand last
// passed it, clearing the marks it passes. It ends within two sweeps.
func (c *procCache) victim() int32 {
	for {
		i := c.hand
		c.hand++
		if c.hand >= c.used {
			c.hand = 0
		}
		p := c.at(i)
		if !p.referenced {
			return i
		}
		p.referenced = false
		c.dirty.mark(i)
	}
}

// each calls fn from the least to the most recently used entry.
func (c *procCache) each(fn func(*proc)) {
	order := make([]int32, 0, c.count)
	for _, h := range c.hosts {
		for _, i := range h.pids {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool { return c.at(order[a]).lastUse < c.at(order[b]).lastUse })
	for _, i := range order {
		fn(c.at(i))
	}
}

// reset drops every entry, keeping the counters.
func (c *procCache) reset() {
	c.hosts = make(map[string]*hostProcs)
	c.last = nil
	c.found.valid = false
	c.count = 0
	c.chunks = nil
	c.used = 0
	c.hand = 0
	c.dirty.reset()
}

// appendSlot appends slot i as json.Marshal encodes its slotEntry (the
// snapshot fields in their order, empty ones left out where tagged
// omitempty, then the clock marks).
func (c *procCache) appendSlot(b []byte, i int32) []byte {
	p := c.at(i)
	var id [16]byte
	b = append(b, `{"h":`...)
	b = appendJSONString(b, p.key.host)
	b = append(b, `,"p":`...)
	b = strconv.AppendInt(b, p.key.pid, 10)
	b = append(b, `,"pp":`...)
	b = strconv.AppendInt(b, p.ppid, 10)
	if p.start != 0 {
		b = append(b, `,"s":`...)
		b = strconv.AppendInt(b, p.start, 10)
	}
	b = append(b, `,"e":`...)
	b = appendJSONString(b, hexIDTo(&id, p.entity))
	if p.parentEntity != 0 {
		b = append(b, `,"pe":`...)
		b = appendJSONString(b, hexIDTo(&id, p.parentEntity))
	}
	uid, gid, euid, egid := p.ids()
	for _, f := range [...]struct{ key, v string }{
		{`,"x":`, p.exe()}, {`,"n":`, p.name()}, {`,"c":`, p.cmdline()}, {`,"w":`, p.cwd()},
		{`,"u":`, uid}, {`,"g":`, gid}, {`,"eu":`, euid}, {`,"eg":`, egid},
	} {
		if f.v != "" {
			b = append(b, f.key...)
			b = appendJSONString(b, f.v)
		}
	}
	b = append(b, `,"lu":`...)
	b = strconv.AppendUint(b, p.lastUse, 10)
	if p.referenced {
		b = append(b, `,"r":true`...)
	}
	return append(b, '}')
}

// hexIDTo renders an entity id hash as 16 hex digits into id and returns
// them as a view of id ("" for 0).
func hexIDTo(id *[16]byte, h uint64) string {
	if h == 0 {
		return ""
	}
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		id[i] = digits[h&0xf]
		h >>= 4
	}
	return unsafe.String(&id[0], 16)
}

// appendJSONString appends s quoted as encoding/json's Marshal quotes it
// (HTML's <, > and & escaped).
func appendJSONString(b []byte, s string) []byte { return ecs.AppendJSONString(b, s, true) }

// warm loads into the CPU cache what the lookups of pids on host will
// touch: the index's entries, then the processes' first cache lines. The
// loads of each pass do not depend on one another, so the processor
// overlaps their misses; made one by one as the rows are processed, each
// would stall it. Nothing is changed or counted. slots is scratch space,
// returned for the next call.
func (c *procCache) warm(host string, pids []int64, slots []int32) []int32 {
	h := c.host(host, false)
	if h == nil {
		return slots
	}
	slots = slots[:0]
	for _, pid := range pids {
		if i, ok := h.pids[pid]; ok {
			slots = append(slots, i)
		}
	}
	var sum uint64
	for _, i := range slots {
		sum += uint64(c.at(i).ppid)
	}
	c.warmSink += sum
	return slots
}
