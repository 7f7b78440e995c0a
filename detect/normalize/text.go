package normalize

import (
	"hash/maphash"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/osqdetect/osqdetect/detect/ecs"
)

// arena hands out small immutable strings carved from shared chunks, so that
// the strings every event needs (event.id, entity ids) cost an allocation per
// chunk instead of one per event. A string keeps its whole chunk alive, so
// chunks stay small.
type arena struct {
	buf []byte
}

const arenaChunk = 2048

// alloc returns n writable bytes that must be filled before str is called on
// them and never written again afterwards.
func (a *arena) alloc(n int) []byte {
	if n > arenaChunk/4 {
		return make([]byte, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// join3 returns a+sep+b+sep+c as an arena string.
func (a *arena) join3(x string, sep byte, y string, z string) string {
	n := len(x) + 1 + len(y) + 1 + len(z)
	b := a.alloc(n)
	i := copy(b, x)
	b[i] = sep
	i++
	i += copy(b[i:], y)
	b[i] = sep
	i++
	copy(b[i:], z)
	return unsafe.String(&b[0], n)
}

// bytesStr copies p into the arena.
func (a *arena) bytesStr(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	b := a.alloc(len(p))
	copy(b, p)
	return unsafe.String(&b[0], len(b))
}

// parseInt parses a base-10 integer made only of ASCII digits with an
// optional leading '-'. It never allocates.
func parseInt(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	if len(s) > 18 {
		// Beyond what fits without overflow checks; accept only leading
		// zeros (padded eids).
		t := strings.TrimLeft(s, "0")
		if len(t) > 18 {
			return 0, false
		}
		s = t
		if s == "" {
			return 0, true
		}
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// baseName returns the last element of a slash-separated path.
func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// splitArgs splits a command line on single spaces, the separator osquery
// used to join argv, in one allocation. Empty elements are kept: "a  b" was
// the argv ["a", "", "b"]. It returns the args value and its length.
func splitArgs(cmdline string) (ecs.Value, int64) {
	if cmdline == "" {
		return ecs.Value{}, 0
	}
	n := argsCount(cmdline)
	arr := appendArgs(make([]ecs.Value, 0, n), cmdline)
	return ecs.Value{Kind: ecs.Array, Arr: arr}, int64(n)
}

// splitArgsArr returns the elements of splitArgs(cmdline), nil for "".
func splitArgsArr(cmdline string) []ecs.Value {
	v, _ := splitArgs(cmdline)
	return v.Arr
}

// canonicalIP returns the address in the form Elasticsearch prints an ip
// field (IPv6 compressed and lower case, IPv4-mapped IPv6 as IPv4), or ""
// when s is empty, osquery's "0" placeholder, or not an address. The input
// string is reused when already canonical.
func (n *Normalizer) canonicalIP(s string) string {
	if s == "" || s == "0" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	if addr.Is4() {
		// netip accepts only the dotted-decimal form without leading
		// zeros: already canonical.
		return s
	}
	addr = addr.Unmap()
	var buf [64]byte
	out := addr.AppendTo(buf[:0])
	if string(out) == s {
		return s
	}
	return n.arena.bytesStr(out)
}

// argsCache remembers the split of recent command lines in a small
// direct-mapped table. Args values are immutable once built, so events and
// processes that ran the same command line share one array: the common
// case (the same tools run over and over) then costs no allocation.
//
// A command line is kept only when it is seen a second time (each slot
// remembers the hash of the last line that missed there): where command
// lines never repeat, keeping them would cost a copy and an array each.
// Lines not kept are split into scratch, valid until reset (the next
// row).
type argsCache struct {
	seed    maphash.Seed
	entries [argsCacheSize]argsEntry
	missed  [argsCacheSize]uint64
	long    argsEntry // the last command line too long for the table
	scratch []ecs.Value
}

type argsEntry struct {
	cmdline string
	args    []ecs.Value
}

const (
	argsCacheSize = 256
	// argsCacheMaxLen keeps very long command lines out of the table, so
	// it pins little memory.
	argsCacheMaxLen = 1024
)

// reset lets the next split reuse the scratch space: the arrays split
// returned for lines it did not keep are no longer valid.
func (c *argsCache) reset() { c.scratch = c.scratch[:0] }

// split returns the elements of splitArgs(cmdline) through the cache.
// cmdline must never change: callers pass the process cache's copy of a
// command line (never a row's, which may be a view of a buffer reused once
// the row is processed), and the cache keeps it as it is.
func (c *argsCache) split(cmdline string) []ecs.Value {
	if cmdline == "" {
		return nil
	}
	if len(cmdline) > argsCacheMaxLen {
		if c.long.cmdline != cmdline {
			c.long = argsEntry{cmdline: cmdline, args: splitArgsArr(cmdline)}
		}
		return c.long.args
	}
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	h := maphash.String(c.seed, cmdline)
	slot := h % argsCacheSize
	e := &c.entries[slot]
	if e.cmdline == cmdline && e.args != nil {
		return e.args
	}
	if c.missed[slot] == h {
		e.args = splitArgsArr(cmdline)
		e.cmdline = cmdline
		return e.args
	}
	c.missed[slot] = h
	start := len(c.scratch)
	c.scratch = appendArgs(c.scratch, cmdline)
	return c.scratch[start:len(c.scratch):len(c.scratch)]
}

// appendArgs appends the elements of splitArgs(cmdline) to dst.
func appendArgs(dst []ecs.Value, cmdline string) []ecs.Value {
	s := cmdline
	for {
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			return append(dst, ecs.Value{Kind: ecs.String, Str: s})
		}
		dst = append(dst, ecs.Value{Kind: ecs.String, Str: s[:j]})
		s = s[j+1:]
	}
}

// argsCount is len(splitArgsArr(cmdline)).
func argsCount(cmdline string) int {
	if cmdline == "" {
		return 0
	}
	return strings.Count(cmdline, " ") + 1
}
