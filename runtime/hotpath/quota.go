package hotpath

import (
	"fmt"
	"sync/atomic"
)

// Quota is a locally held block of uses of a max_uses budget. The owner
// leases blocks from outside (the cluster charges them through Raft) with
// Lease, spenders call TrySpend without locks, and Return gives back what is
// unspent. Spends never exceed the sum of leased blocks, under any
// concurrency: each spend is a compare-and-swap on the available count.
//
// When the available count falls to the low-water mark, LowWater's channel
// receives one signal so the owner can lease the next block before the
// current one runs out.
type Quota struct {
	avail    atomic.Int64
	leased   atomic.Int64
	returned atomic.Int64
	lowWater int64
	low      chan struct{}
}

// NewQuota returns an empty quota that signals when at most lowWater uses
// remain.
func NewQuota(lowWater int64) *Quota {
	return &Quota{lowWater: max(lowWater, 0), low: make(chan struct{}, 1)}
}

// Lease adds a block of n uses obtained from outside.
func (q *Quota) Lease(n int64) error {
	if n <= 0 {
		return fmt.Errorf("%w: %d", ErrBadLease, n)
	}
	q.leased.Add(n)
	q.avail.Add(n)
	return nil
}

// TrySpend takes n uses, or none: it returns ErrQuotaExhausted when fewer
// than n are available.
func (q *Quota) TrySpend(n int64) error {
	for {
		a := q.avail.Load()
		if a < n || n <= 0 {
			if n <= 0 {
				return fmt.Errorf("%w: spend %d", ErrBadLease, n)
			}
			return ErrQuotaExhausted
		}
		if q.avail.CompareAndSwap(a, a-n) {
			if a > q.lowWater && a-n <= q.lowWater {
				q.signalLow()
			}
			return nil
		}
	}
}

// refund puts back n uses taken by TrySpend for an invocation that was then
// refused (never accepted), so it never counted as a use.
func (q *Quota) refund(n int64) { q.avail.Add(n) }

func (q *Quota) signalLow() {
	select {
	case q.low <- struct{}{}:
	default:
	}
}

// LowWater delivers a signal each time the available count falls to the
// low-water mark (at most one pending).
func (q *Quota) LowWater() <-chan struct{} { return q.low }

// Return takes every unspent use out of the quota and returns how many
// there were, for the owner to give back. Later spends fail until the next
// Lease. Revocation calls it to stop local use at once.
func (q *Quota) Return() int64 {
	n := q.avail.Swap(0)
	q.returned.Add(n)
	return n
}

// Available is the number of uses that can still be spent.
func (q *Quota) Available() int64 { return q.avail.Load() }

// Leased is the sum of all blocks leased.
func (q *Quota) Leased() int64 { return q.leased.Load() }

// Returned is the sum of all Return results.
func (q *Quota) Returned() int64 { return q.returned.Load() }

// Spent is Leased - Returned - Available: exact when no call is in flight.
func (q *Quota) Spent() int64 {
	return q.leased.Load() - q.returned.Load() - q.avail.Load()
}
