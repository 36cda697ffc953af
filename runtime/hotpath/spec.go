package hotpath

import (
	"context"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/contract"
)

// Handler runs one invocation on a shard's worker goroutine. ctx is
// cancelled when the invocation's timeout passes (ctx.Err() is then
// context.DeadlineExceeded); handlers that can block should watch it.
//
// ctx and call belong to the dispatcher and are reused for the next
// invocation as soon as the handler returns: neither may be retained or
// used from another goroutine after return. call.Args is the caller's
// buffer (read-only). To answer with bytes, append to call.Out (it starts
// empty and its capacity is reused, so steady-state output allocates
// nothing).
//
// A returned error makes the outcome Failed (or DeadlineExceeded when the
// timeout passed first). Errors whose cnverr kind says retrying cannot help
// (see Retryable) are never retried.
type Handler func(ctx context.Context, call *Call) error

// Call is one invocation as a handler sees it.
type Call struct {
	Ctx     Context
	Key     string // the session key (e.g. the certificate ID)
	Seq     uint64 // the caller's sequence number
	Args    []byte // borrowed from the caller; do not modify or retain
	Attempt int    // 1 for the first try
	Out     []byte // output; append to it
}

// Spec is what the dispatcher enforces for one capability: the parts of
// its execution contract (runtime/contract) the hot path acts on.
type Spec struct {
	// Flags are the capability's effect flags; sessions check them against
	// what their certificate allows.
	Flags capability.Flags
	// Timeout cancels an invocation that runs this long; 0 = never.
	Timeout time.Duration
	// Concurrency bounds invocations in flight (accepted and not yet
	// completed): per tenant for SingleTenantExclusive (1) and
	// TenantWideShared (Max), across tenants for GlobalShared (Max). A
	// submission over the bound is refused with ErrConcurrencyLimit; nothing
	// waits. RateLimitRPS is not enforced by the hot path.
	Concurrency contract.ConcurrencyModel
	// Retry is applied only when Idempotent is true.
	Retry      contract.RetryPolicy
	Idempotent bool
}

func (s Spec) validate() error {
	if s.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout %v", ErrBadSpec, s.Timeout)
	}
	if err := s.Concurrency.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	if s.Retry.Kind != contract.NoRetry && !s.Idempotent {
		return fmt.Errorf("%w: retry policy %s on a capability that is not idempotent", ErrBadSpec, s.Retry.Kind)
	}
	return s.Retry.Validate()
}

// entry is a registered handler with its precomputed rules; immutable.
type entry struct {
	index   uint32
	h       Handler
	spec    Spec
	timeout int64    // nanoseconds; 0 = none
	global  *limiter // GlobalShared bound, nil otherwise
	retry   bool
}

// tenantBound is the per-tenant in-flight bound of e, 0 for none.
func (e *entry) tenantBound() int64 {
	switch e.spec.Concurrency.Kind {
	case contract.SingleTenantExclusive:
		return 1
	case contract.TenantWideShared:
		return int64(e.spec.Concurrency.Max)
	}
	return 0
}
