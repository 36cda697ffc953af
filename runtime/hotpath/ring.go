package hotpath

import (
	"math/bits"
	"sync/atomic"
)

const cacheLine = 64

// closedBit marks a closed ring in its tail word. Positions never reach it:
// 2^63 pushes at 10^9 per second take 292 years.
const closedBit = uint64(1) << 63

// Ring is a bounded lock-free MPMC FIFO (Vyukov's array queue: one sequence
// number per slot). Every user shares the one *Ring, so its counters are the
// ring's own head and tail positions and cannot diverge between users.
//
// The capacity is exact, not rounded: slots are allocated to the next power
// of two, and when that exceeds the capacity a push also checks the
// occupancy against it.
//
// Close makes every later push fail while pops continue, so a consumer can
// drain what was accepted before the close: the close and every push race on
// the same tail word, and a push either lands before the close or fails.
type Ring[T any] struct {
	tail     atomic.Uint64 // next position to claim for a push; closedBit when closed
	_        [cacheLine - 8]byte
	head     atomic.Uint64 // next position to claim for a pop
	_        [cacheLine - 8]byte
	mask     uint64
	capacity uint64
	exact    bool // capacity == len(slots): the slot sequence alone detects full
	slots    []ringSlot[T]
}

type ringSlot[T any] struct {
	seq atomic.Uint64
	val T
}

// NewRing returns a ring holding at most capacity values (minimum 1).
func NewRing[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		capacity = 1
	}
	// At least two slots: with one, a full slot's sequence (pos+1) would
	// equal the next push position and read as free.
	n := max(uint64(2), uint64(1)<<bits.Len64(uint64(capacity-1)))
	r := &Ring[T]{
		mask:     n - 1,
		capacity: uint64(capacity),
		exact:    n == uint64(capacity),
		slots:    make([]ringSlot[T], n),
	}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// TryPush appends v. It reports false, leaving the ring unchanged, when the
// ring is full or closed (Closed tells which).
func (r *Ring[T]) TryPush(v T) bool {
	pos := r.tail.Load()
	for {
		if pos&closedBit != 0 {
			return false
		}
		sl := &r.slots[pos&r.mask]
		dif := int64(sl.seq.Load() - pos)
		switch {
		case dif == 0:
			if !r.exact && int64(pos-r.head.Load()) >= int64(r.capacity) {
				return false
			}
			if r.tail.CompareAndSwap(pos, pos+1) {
				sl.val = v
				sl.seq.Store(pos + 1)
				return true
			}
			pos = r.tail.Load()
		case dif < 0:
			return false
		default:
			pos = r.tail.Load()
		}
	}
}

// TryPop removes the oldest value. It reports false when the ring is empty
// (or the oldest push has claimed its slot but not yet written it).
func (r *Ring[T]) TryPop() (T, bool) {
	var zero T
	pos := r.head.Load()
	for {
		sl := &r.slots[pos&r.mask]
		dif := int64(sl.seq.Load() - (pos + 1))
		switch {
		case dif == 0:
			if r.head.CompareAndSwap(pos, pos+1) {
				v := sl.val
				sl.val = zero
				sl.seq.Store(pos + r.mask + 1)
				return v, true
			}
			pos = r.head.Load()
		case dif < 0:
			return zero, false
		default:
			pos = r.head.Load()
		}
	}
}

// The single-consumer API: a ring whose only consumer is one goroutine may
// use consumerPos/popAt/commitHead instead of TryPop (never both). popAt
// needs no CAS, and the consumer publishes its position once per batch
// with commitHead instead of once per value; until then producers see the
// ring a little fuller than it is (safe: a push may be refused early, never
// accepted late), and Len and Stats trail by the uncommitted pops.

// consumerPos is the position of the next value to pop.
func (r *Ring[T]) consumerPos() uint64 { return r.head.Load() }

// popAt moves the value at position pos (the consumer's private position)
// into *dst and frees its slot; false when it has not been pushed yet.
func (r *Ring[T]) popAt(pos uint64, dst *T) bool {
	var zero T
	sl := &r.slots[pos&r.mask]
	if sl.seq.Load() != pos+1 {
		return false
	}
	*dst = sl.val
	sl.val = zero
	sl.seq.Store(pos + r.mask + 1)
	return true
}

// commitHead publishes the consumer's position.
func (r *Ring[T]) commitHead(pos uint64) { r.head.Store(pos) }

// Close makes every later TryPush fail. Values already pushed stay
// poppable. Closing twice is harmless.
func (r *Ring[T]) Close() {
	for {
		t := r.tail.Load()
		if t&closedBit != 0 || r.tail.CompareAndSwap(t, t|closedBit) {
			return
		}
	}
}

// Closed reports whether Close was called.
func (r *Ring[T]) Closed() bool { return r.tail.Load()&closedBit != 0 }

// Len is the number of values pushed and not yet popped (a snapshot; exact
// when the ring is quiescent).
func (r *Ring[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	if t <= h {
		return 0
	}
	if n := t - h; n < r.capacity {
		return int(n)
	}
	return int(r.capacity)
}

// Empty reports whether Len is 0.
func (r *Ring[T]) Empty() bool { return r.Len() == 0 }

// Cap is the capacity given to NewRing.
func (r *Ring[T]) Cap() int { return int(r.capacity) }

// QueueStats are a ring's counters.
type QueueStats struct {
	Len      int    `json:"current_length"`
	Enqueued uint64 `json:"total_enqueued"`
	Dequeued uint64 `json:"total_dequeued"`
	Capacity int    `json:"capacity"`
}

// Stats returns the counters. Enqueued and Dequeued count claimed slots, so
// they are exact once concurrent pushes and pops have returned.
func (r *Ring[T]) Stats() QueueStats {
	return QueueStats{
		Len:      r.Len(),
		Enqueued: r.tail.Load() &^ closedBit,
		Dequeued: r.head.Load(),
		Capacity: r.Cap(),
	}
}

// Utilization is Len as a percentage of Capacity.
func (s QueueStats) Utilization() float64 {
	if s.Capacity == 0 {
		return 0
	}
	return float64(s.Len) / float64(s.Capacity) * 100
}

// Throughput is the total number of values popped.
func (s QueueStats) Throughput() uint64 { return s.Dequeued }
