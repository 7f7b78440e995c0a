//go:build !linux

package slab

func mapRegion(size int) ([]byte, error) { return make([]byte, size), nil }

func unmapRegion([]byte) {}
