package slab

import (
	"sync"
	"testing"
)

func TestClass(t *testing.T) {
	for _, tc := range []struct{ size, class int }{
		{0, 0}, {1, 0}, {MinChunk, 0}, {MinChunk + 1, 1}, {4 << 10, 2}, {MaxChunk, NumClasses - 1}, {MaxChunk + 1, NumClasses - 1},
	} {
		if got := Class(tc.size); got != tc.class {
			t.Errorf("Class(%d) = %d, want %d", tc.size, got, tc.class)
		}
	}
}

func TestGetPutReuses(t *testing.T) {
	p := New(64 << 20)
	defer p.Close()
	c := p.Get(2)
	if len(c) != 0 || cap(c) != Size(2) {
		t.Fatalf("Get(2): len %d cap %d, want 0 and %d", len(c), cap(c), Size(2))
	}
	if !p.owns(c) {
		t.Fatal("a chunk under the limit should come from a mapped region")
	}
	c = append(c, "hello"...)
	p.Put(c)
	again := p.Get(2)
	if &again[:1][0] != &c[:1][0] {
		t.Error("a chunk put back should be handed out again")
	}
	if p.Mapped() != regionSize {
		t.Errorf("mapped %d bytes, want one region (%d)", p.Mapped(), regionSize)
	}
}

func TestChunksDoNotOverlap(t *testing.T) {
	p := New(64 << 20)
	defer p.Close()
	var chunks [][]byte
	for i := 0; i < 300; i++ {
		c := p.Get(i % NumClasses)
		c = c[:cap(c)]
		for j := range c {
			c[j] = byte(i)
		}
		chunks = append(chunks, c)
	}
	for i, c := range chunks {
		for j := range c {
			if c[j] != byte(i) {
				t.Fatalf("chunk %d byte %d was overwritten by another chunk", i, j)
			}
		}
	}
}

func TestLimitFallsBackToHeap(t *testing.T) {
	p := New(0)
	defer p.Close()
	c := p.Get(NumClasses - 1)
	if cap(c) != MaxChunk || p.owns(c) || p.Mapped() != 0 {
		t.Fatalf("with no room to map, Get should allocate on the heap (cap %d, owned %v, mapped %d)", cap(c), p.owns(c), p.Mapped())
	}
	p.Put(c) // dropped, not kept
	if len(p.free[NumClasses-1]) != 0 {
		t.Error("a heap chunk should not join the free list")
	}
}

func TestPutPoisonsUnderRace(t *testing.T) {
	if !poisonFreed {
		t.Skip("chunks are poisoned only in race-enabled builds")
	}
	p := New(8 << 20)
	defer p.Close()
	c := append(p.Get(0), "secret"...)
	p.Put(c)
	if c[0] != 0xA5 {
		t.Errorf("a chunk put back should be poisoned, got %q", c[:6])
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(16 << 20)
	defer p.Close()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c := p.Get(i % NumClasses)
				c = append(c, byte(g))
				p.Put(c)
			}
		}()
	}
	wg.Wait()
}
