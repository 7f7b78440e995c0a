//go:build race

package slab

const poisonFreed = true
