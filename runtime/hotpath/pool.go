package hotpath

import "sync/atomic"

// ContextPool issues compact handles and recycles Context values.
// Handles are sequential from 1 and unique under concurrency (an atomic
// counter each for agents and tenants). The pool of contexts starts empty:
// Release fills it, TryAcquire drains it.
type ContextPool struct {
	agents  atomic.Uint64
	tenants atomic.Uint64
	free    *Ring[Context]
}

// NewContextPool returns a pool that holds at most capacity released
// contexts.
func NewContextPool(capacity int) *ContextPool {
	return &ContextPool{free: NewRing[Context](capacity)}
}

// AllocAgent returns the next agent handle: 1, 2, 3, ...
func (p *ContextPool) AllocAgent() AgentHandle { return AgentHandle(p.agents.Add(1)) }

// AllocTenant returns the next tenant handle: 1, 2, 3, ...
func (p *ContextPool) AllocTenant() TenantHandle { return TenantHandle(p.tenants.Add(1)) }

// TryAcquire takes a released context; false when none is pooled.
func (p *ContextPool) TryAcquire() (Context, bool) { return p.free.TryPop() }

// Release returns c to the pool. When the pool is full it returns
// ErrPoolFull and keeps nothing (the original dropped it silently).
func (p *ContextPool) Release(c Context) error {
	if !p.free.TryPush(c) {
		return ErrPoolFull
	}
	return nil
}

// Pooled is the number of contexts waiting in the pool.
func (p *ContextPool) Pooled() int { return p.free.Len() }
