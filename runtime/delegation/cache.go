package delegation

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// hashCache is a fixed-size, two-way set-associative cache keyed by link
// hash. Reads are one or two atomic pointer loads and take no lock, which
// is what keeps a cached chain check in the tens of nanoseconds; writes are
// atomic stores that may evict whatever shared the slot. Keys are SHA-256
// outputs, so their low bits index the table uniformly. It is safe for
// concurrent use; a reader sees either the old or the new entry of a slot.
type hashCache[V any] struct {
	slots []atomic.Pointer[cacheEntry[V]]
	mask  uint64
}

type cacheEntry[V any] struct {
	key Hash
	val V
}

// newHashCache returns a cache of at least capacity slots (a power of two,
// at least 2).
func newHashCache[V any](capacity int) *hashCache[V] {
	n := 2
	if capacity > 2 {
		n = 1 << bits.Len(uint(capacity-1))
	}
	return &hashCache[V]{slots: make([]atomic.Pointer[cacheEntry[V]], n), mask: uint64(n - 1)}
}

// set returns the two slots key may live in.
func (c *hashCache[V]) set(key *Hash) (uint64, uint64) {
	i := binary.LittleEndian.Uint64(key[:8]) & c.mask
	return i, i ^ 1
}

func (c *hashCache[V]) get(key *Hash) (V, bool) {
	i, j := c.set(key)
	if e := c.slots[i].Load(); e != nil && e.key == *key {
		return e.val, true
	}
	if e := c.slots[j].Load(); e != nil && e.key == *key {
		return e.val, true
	}
	var zero V
	return zero, false
}

// put stores key → val in an empty slot of its set, or replaces the entry
// in the key's own slot, or else the other one.
func (c *hashCache[V]) put(key *Hash, val V) {
	i, j := c.set(key)
	e := &cacheEntry[V]{key: *key, val: val}
	switch a, b := c.slots[i].Load(), c.slots[j].Load(); {
	case a == nil || a.key == *key:
		c.slots[i].Store(e)
	case b == nil || b.key == *key:
		c.slots[j].Store(e)
	default:
		// Alternate the victim by a key bit, so two hot keys of one set
		// do not keep evicting the same one.
		if key[8]&1 == 0 {
			c.slots[i].Store(e)
		} else {
			c.slots[j].Store(e)
		}
	}
}
