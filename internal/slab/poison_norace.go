//go:build !race

package slab

const poisonFreed = false
