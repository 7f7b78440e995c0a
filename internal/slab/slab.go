// Package slab hands out byte chunks of a few power-of-two sizes from
// memory mapped outside the Go heap, and takes them back for reuse.
//
// A buffer that holds tens of megabytes of bytes for a while (scan's
// reorder window) costs twice on the Go heap: the collector sets its goal
// at a multiple of the live heap, so the process's resident set grows to
// several times the buffer, and every fresh page is a page fault. Chunks
// from a Pool live in regions mapped once (with transparent huge pages
// asked for, where the kernel offers them on request), are reused as soon
// as they are put back, and are invisible to the collector: they must
// hold no Go pointers, which bytes never are.
//
// Bytes in a chunk that was put back must not be read again: with the
// race detector on (make test), Put fills a chunk with 0xA5 so that a
// view kept past its chunk's life shows up as wrong output in the tests
// instead of passing by luck.
package slab

import (
	"sync"
	"unsafe"
)

const (
	// MinChunk and MaxChunk are the smallest and largest chunk sizes;
	// every power of two between them is a class.
	MinChunk   = 1 << 10
	MaxChunk   = 64 << 10
	NumClasses = 7

	regionSize = 4 << 20
)

// Class returns the class of the smallest chunk of at least size bytes
// (the largest class when size is over MaxChunk).
func Class(size int) int {
	c := 0
	for s := MinChunk; s < size && c < NumClasses-1; s <<= 1 {
		c++
	}
	return c
}

// Size returns the size of a class's chunks.
func Size(class int) int { return MinChunk << class }

// Pool is a set of free chunks by class and the regions they come from. A
// Pool maps at most its limit in bytes; past it, chunks come from the Go
// heap (and are left to the collector when put back). Its methods are
// safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	limit   int
	free    [NumClasses][][]byte
	regions [][]byte
	rest    []byte // the unused end of the newest region
	mapped  int
}

// New returns a Pool that maps at most limit bytes.
func New(limit int) *Pool { return &Pool{limit: limit} }

// Get returns an empty chunk (length 0) of the class's size.
func (p *Pool) Get(class int) []byte {
	size := Size(class)
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := len(p.free[class]); k > 0 {
		c := p.free[class][k-1]
		p.free[class][k-1] = nil
		p.free[class] = p.free[class][:k-1]
		return c
	}
	if len(p.rest) < size && p.mapped+regionSize <= p.limit {
		if r, err := mapRegion(regionSize); err == nil {
			p.regions = append(p.regions, r)
			p.mapped += len(r)
			p.rest = r
		}
	}
	if len(p.rest) >= size {
		c := p.rest[:0:size]
		p.rest = p.rest[size:]
		return c
	}
	return make([]byte, 0, size)
}

// Put takes a chunk back. c must have come from p.Get and no view of its
// bytes may be used afterwards.
func (p *Pool) Put(c []byte) {
	if cap(c) == 0 {
		return
	}
	if poisonFreed {
		full := c[:cap(c)]
		for i := range full {
			full[i] = 0xA5
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.owns(c) {
		return // from the Go heap: the collector's
	}
	class := Class(cap(c))
	p.free[class] = append(p.free[class], c[:0])
}

func (p *Pool) owns(c []byte) bool {
	a := uintptr(unsafe.Pointer(unsafe.SliceData(c)))
	for _, r := range p.regions {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(r)))
		if a >= start && a < start+uintptr(len(r)) {
			return true
		}
	}
	return false
}

// Mapped returns the bytes the Pool has mapped.
func (p *Pool) Mapped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapped
}

// Close unmaps every region. No chunk of p may be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.regions {
		unmapRegion(r)
	}
	p.regions, p.rest, p.mapped = nil, nil, 0
	p.free = [NumClasses][][]byte{}
}
