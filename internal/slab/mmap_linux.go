package slab

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the machines scan
// runs on; regions are aligned to it so that the kernel can back them
// with huge pages (one fault for 2 MiB instead of 512).
const hugePage = 2 << 20

// mapRegion maps size bytes of anonymous memory aligned to hugePage and
// asks for huge pages (ignored where the kernel does not offer them).
func mapRegion(size int) ([]byte, error) {
	whole := uintptr(size + hugePage)
	p, err := unix.MmapPtr(-1, 0, nil, whole, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	// Keep an aligned start; the unaligned ends go back at once.
	addr := uintptr(p)
	skip := (hugePage - addr%hugePage) % hugePage
	if skip > 0 {
		_ = unix.MunmapPtr(p, skip)
	}
	if tail := whole - skip - uintptr(size); tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(p, skip+uintptr(size)), tail)
	}
	r := unsafe.Slice((*byte)(unsafe.Add(p, skip)), size)
	_ = unix.Madvise(r, unix.MADV_HUGEPAGE)
	return r, nil
}

func unmapRegion(r []byte) { _ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(r)), uintptr(len(r))) }
