package hotpath

import "sync/atomic"

// limiter bounds a count of invocations in flight. acquire never admits
// past max, even under contention (a CAS loop, not add-then-check).
type limiter struct {
	n   atomic.Int64
	max int64
}

func newLimiter(max int64) *limiter { return &limiter{max: max} }

func (l *limiter) acquire() bool {
	if l == nil {
		return true
	}
	for {
		n := l.n.Load()
		if n >= l.max {
			return false
		}
		if l.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (l *limiter) release() {
	if l != nil {
		l.n.Add(-1)
	}
}

type limitKey struct {
	tenant TenantHandle
	cap    uint32
}
