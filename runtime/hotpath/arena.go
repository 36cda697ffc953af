package hotpath

import (
	"sync/atomic"
	"unsafe"
)

// Arena is a bump allocator over one preallocated slab, for per-batch
// scratch values that all die together at Reset. Alloc is safe for
// concurrent use (a CAS on the offset); Reset is not and must be called with
// no allocation in flight and no allocated value still in use.
//
// The slab is scanned by nothing: it may hold only pointer-free data, which
// is why the typed helper Put accepts plain scalar types only.
type Arena struct {
	off  atomic.Int64
	slab []uint64 // []uint64 so the base is 8-byte aligned
	size int64
}

// NewArena returns an arena of capacity bytes (rounded up to a multiple
// of 8).
func NewArena(capacity int) *Arena {
	if capacity < 0 {
		capacity = 0
	}
	words := (capacity + 7) / 8
	return &Arena{slab: make([]uint64, words), size: int64(capacity)}
}

// Alloc reserves n bytes aligned to align (a power of two, at most 8) and
// returns them zeroed. It reports false when the arena cannot fit them.
func (a *Arena) Alloc(n, align int) ([]byte, bool) {
	if n < 0 || align <= 0 || align > 8 || align&(align-1) != 0 {
		return nil, false
	}
	for {
		old := a.off.Load()
		start := (old + int64(align) - 1) &^ (int64(align) - 1)
		end := start + int64(n)
		if end > a.size {
			return nil, false
		}
		if a.off.CompareAndSwap(old, end) {
			return a.bytes(start, n), true
		}
	}
}

func (a *Arena) bytes(start int64, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	base := unsafe.Pointer(unsafe.SliceData(a.slab))
	b := unsafe.Slice((*byte)(unsafe.Add(base, start)), n)
	clear(b)
	return b
}

// Scalar is the pointer-free value types Put may store.
type Scalar interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~int | ~uint8 | ~uint16 | ~uint32 |
		~uint64 | ~uint | ~uintptr | ~float32 | ~float64 | ~bool
}

// Put copies v into the arena and returns a pointer to the copy, or false
// when it does not fit. The pointer is valid until Reset.
func Put[T Scalar](a *Arena, v T) (*T, bool) {
	var zero T
	b, ok := a.Alloc(int(unsafe.Sizeof(zero)), int(unsafe.Alignof(zero)))
	if !ok {
		return nil, false
	}
	p := (*T)(unsafe.Pointer(unsafe.SliceData(b)))
	*p = v
	return p, true
}

// Reset makes the whole slab available again. Not safe concurrently with
// Alloc; every value handed out before is invalid afterwards.
func (a *Arena) Reset() { a.off.Store(0) }

// Usage is the number of bytes handed out (including alignment padding).
// It only grows between resets.
func (a *Arena) Usage() int { return int(a.off.Load()) }

// Capacity is the slab size in bytes.
func (a *Arena) Capacity() int { return int(a.size) }

// Utilization is Usage as a percentage of Capacity (0 for an empty arena).
func (a *Arena) Utilization() float64 {
	if a.size == 0 {
		return 0
	}
	return float64(a.off.Load()) / float64(a.size) * 100
}
