package normalize

import (
	"github.com/osqdetect/osqdetect/detect/ecs"
)

// procKey names a process slot: a pid on a host.
type procKey struct {
	host string
	pid  int64
}

// proc is what the cache knows about one process: its identity and its
// current image.
type proc struct {
	key            procKey
	entityID       string
	parentEntityID string
	ppid           int64 // -1 when unknown
	start          int64 // unix seconds the process began (or was first seen)
	exe            string
	name           string
	cmdline        string
	args           ecs.Value
	argsCount      int64
	cwd            string
	uid, gid       string
	euid, egid     string

	parentSlot int32 // where the parent was last found; -1 unknown
	prev, next int32 // LRU links; -1 ends the list
}

const chunkBits = 10
const chunkSize = 1 << chunkBits

// procCache is a bounded LRU of processes keyed by (host, pid). Entries live
// in fixed-size chunks so that pointers to them stay valid while the cache
// grows; a pointer is valid until the entry is evicted.
type procCache struct {
	idx    map[procKey]int32
	chunks [][]proc
	used   int32
	max    int32
	head   int32 // most recently used
	tail   int32 // least recently used

	hits, misses, evictions uint64
}

func newProcCache(max int) *procCache {
	if max < 1 {
		max = 1
	}
	if max > 1<<30 {
		max = 1 << 30
	}
	return &procCache{idx: make(map[procKey]int32), max: int32(max), head: -1, tail: -1}
}

func (c *procCache) at(i int32) *proc {
	return &c.chunks[i>>chunkBits][i&(chunkSize-1)]
}

func (c *procCache) size() int { return len(c.idx) }

func (c *procCache) unlink(i int32) {
	p := c.at(i)
	if p.prev >= 0 {
		c.at(p.prev).next = p.next
	} else {
		c.head = p.next
	}
	if p.next >= 0 {
		c.at(p.next).prev = p.prev
	} else {
		c.tail = p.prev
	}
	p.prev, p.next = -1, -1
}

func (c *procCache) pushFront(i int32) {
	p := c.at(i)
	p.prev = -1
	p.next = c.head
	if c.head >= 0 {
		c.at(c.head).prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}

// get returns the process and marks it recently used, or nil. It counts a
// hit or a miss.
func (c *procCache) get(host string, pid int64) *proc {
	i, ok := c.idx[procKey{host, pid}]
	if !ok {
		c.misses++
		return nil
	}
	return c.use(i)
}

// use marks entry i recently used, counts a hit and returns it.
func (c *procCache) use(i int32) *proc {
	c.hits++
	if c.head != i {
		c.unlink(i)
		c.pushFront(i)
	}
	return c.at(i)
}

// parentOf returns p's parent entry, found by the slot p remembers (no map
// lookup) when that slot still holds the same process, else by (host,
// ppid). It marks the parent recently used.
func (c *procCache) parentOf(p *proc) *proc {
	if s := p.parentSlot; s >= 0 && s < c.used {
		par := c.at(s)
		if par.key.pid == p.ppid && par.entityID == p.parentEntityID && par.key.host == p.key.host {
			return c.use(s)
		}
	}
	i, ok := c.idx[procKey{p.key.host, p.ppid}]
	if !ok {
		c.misses++
		return nil
	}
	p.parentSlot = i
	return c.use(i)
}

// peek returns the process without touching recency or counters.
func (c *procCache) peek(host string, pid int64) *proc {
	if i, ok := c.idx[procKey{host, pid}]; ok {
		return c.at(i)
	}
	return nil
}

// put returns a zeroed entry for (host, pid), replacing an existing one or
// evicting the least recently used entry when the cache is full.
func (c *procCache) put(host string, pid int64) *proc {
	key := procKey{host, pid}
	i, ok := c.idx[key]
	switch {
	case ok:
		c.unlink(i)
	case c.used < c.max:
		i = c.used
		c.used++
		if int(i>>chunkBits) >= len(c.chunks) {
			c.chunks = append(c.chunks, make([]proc, chunkSize))
		}
		c.idx[key] = i
	default:
		i = c.tail
		c.unlink(i)
		delete(c.idx, c.at(i).key)
		c.evictions++
		c.idx[key] = i
	}
	p := c.at(i)
	*p = proc{key: key, ppid: -1, parentSlot: -1, prev: -1, next: -1}
	c.pushFront(i)
	return p
}

// each calls fn from the least to the most recently used entry.
func (c *procCache) each(fn func(*proc)) {
	for i := c.tail; i >= 0; {
		p := c.at(i)
		prev := p.prev
		fn(p)
		i = prev
	}
}

// reset drops every entry, keeping the counters.
func (c *procCache) reset() {
	c.idx = make(map[procKey]int32)
	c.chunks = nil
	c.used = 0
	c.head, c.tail = -1, -1
}
