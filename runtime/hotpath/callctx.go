package hotpath

import (
	"context"
	"sync"
	"time"
)

// A shard publishes the invocation it is running in one word, which the
// watchdog reads and cancels with a compare-and-swap:
//
//	bit 0       cancelled
//	bits 1..24  capability index + 1 (0 = no invocation running)
//	bits 25..63 generation, incremented per invocation
//
// Publishing costs the worker one atomic swap per invocation, and a cancel
// can only ever hit the invocation it was meant for: a later invocation
// has a different word, so the CAS fails.
const (
	cancelBit  = uint64(1)
	capBits    = 24
	capShift   = 1
	genShift   = capShift + capBits
	maxCapWord = 1<<capBits - 2 // largest capability index that fits
)

func callWord(gen uint64, capIndex uint32) uint64 {
	return gen<<genShift | (uint64(capIndex)+1)<<capShift
}

func wordCap(w uint64) (uint32, bool) {
	c := (w >> capShift) & (1<<capBits - 1)
	return uint32(c - 1), c != 0
}

// callCtx is the context.Context handed to handlers: one per shard, reused
// for every invocation, so a call allocates nothing. Its Done channel is
// made on first use and replaced only after it has been closed by a
// cancellation.
type callCtx struct {
	sh       *shard
	mu       sync.Mutex
	done     chan struct{}
	closed   bool
	deadline time.Time // worker-written before each call
	hasDL    bool
}

// Deadline implements context.Context.
func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, c.hasDL }

// Done implements context.Context.
func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.sh.cur.Load()&cancelBit != 0 {
			close(c.done)
			c.closed = true
		}
	}
	return c.done
}

// Err implements context.Context.
func (c *callCtx) Err() error {
	if c.sh.cur.Load()&cancelBit == 0 {
		return nil
	}
	if c.sh.aborting.Load() {
		return context.Canceled
	}
	return context.DeadlineExceeded
}

// Value implements context.Context; the hot path carries no values.
func (c *callCtx) Value(any) any { return nil }

// cancel cancels the invocation published as word, if it is still the one
// running. Called by the watchdog and by an aborting Stop.
func (c *callCtx) cancel(word uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if word == 0 || word&cancelBit != 0 || !c.sh.cur.CompareAndSwap(word, word|cancelBit) {
		return false
	}
	if c.done != nil && !c.closed {
		close(c.done)
		c.closed = true
	}
	return true
}

// publish makes word the running invocation; the worker calls it before
// each handler (and with 0 when idle). A closed Done channel left by a
// cancelled predecessor is dropped so the next Done makes a fresh one.
func (c *callCtx) publish(word uint64) {
	if old := c.sh.cur.Swap(word); old&cancelBit != 0 {
		c.mu.Lock()
		if c.closed {
			c.done, c.closed = nil, false
		}
		c.mu.Unlock()
	}
}
