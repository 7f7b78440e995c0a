package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// DropResidentPages tells the kernel that the store's memory-mapped file
// pages may leave the process's resident set (madvise MADV_DONTNEED on the
// read-only shared mapping bbolt reads through). Nothing is lost: the
// pages stay in the page cache and are mapped again on the next read. It
// keeps a large store (the process cache is stored slot by slot) from
// counting its whole file against the extension's resident memory.
//
// It runs inside a read transaction, which holds bbolt's mapping lock, so
// the mapping cannot be replaced while it is advised.
func (s *Store) DropResidentPages() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.View(func(tx *bolt.Tx) error {
		info := s.db.Info()
		size := tx.Size()
		if info == nil || info.Data == 0 || size <= 0 {
			return nil
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("releasing the state store's mapped pages: %w", errno)
		}
		return nil
	})
}
