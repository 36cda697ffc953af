package hotpath

import "github.com/cnv-project/cnv/runtime/cnverr"

// Sentinel errors. The dispatcher's refusals on the submission path are
// returned bare (not wrapped) so that refusing costs no allocation; test
// them with errors.Is like every other error.
var (
	// Quota.
	ErrQuotaExhausted = cnverr.New(cnverr.ResourceExhausted, "use quota exhausted")
	ErrBadLease       = cnverr.New(cnverr.InvalidInput, "lease must be a positive number of uses")

	// Dispatcher configuration and registration.
	ErrBadConfig        = cnverr.New(cnverr.InvalidInput, "invalid dispatcher configuration")
	ErrBadCapIndex      = cnverr.New(cnverr.InvalidInput, "capability index out of range")
	ErrDuplicateHandler = cnverr.New(cnverr.Conflict, "a handler is already registered for this capability index")
	ErrNoHandler        = cnverr.New(cnverr.CommandNotFound, "no handler registered for this capability index")
	ErrBadSpec          = cnverr.New(cnverr.InvalidInput, "invalid execution spec")
	ErrEffectNotAllowed = cnverr.New(cnverr.PermissionDenied, "capability effects exceed what the session allows")
	ErrBadSession       = cnverr.New(cnverr.InvalidInput, "invalid session options")

	// Submission refusals (back-pressure and limits).
	ErrShardFull        = cnverr.New(cnverr.ResourceExhausted, "shard queue is full")
	ErrSessionWindow    = cnverr.New(cnverr.ResourceExhausted, "session has its maximum of invocations in flight")
	ErrConcurrencyLimit = cnverr.New(cnverr.ResourceExhausted, "concurrency limit of the capability's contract reached")
	ErrStopped          = cnverr.New(cnverr.Unavailable, "dispatcher is stopped")
	ErrSessionClosed    = cnverr.New(cnverr.Unavailable, "session is closed")
	ErrNotStarted       = cnverr.New(cnverr.Unavailable, "dispatcher is not started")

	// Outcomes recorded in completions.
	ErrDeadline      = cnverr.New(cnverr.DeadlineExceeded, "invocation exceeded its deadline")
	ErrAborted       = cnverr.New(cnverr.Unavailable, "invocation aborted: the dispatcher stopped before running it")
	ErrHandlerPanic  = cnverr.New(cnverr.ExecutionError, "handler panicked")
	ErrRetriesFull   = cnverr.New(cnverr.ResourceExhausted, "retry queue full; giving up after this attempt")
	ErrStopTimedOut  = cnverr.New(cnverr.DeadlineExceeded, "stop timed out; the remaining invocations were aborted")
	ErrCloseTimedOut = cnverr.New(cnverr.DeadlineExceeded, "close timed out before every invocation completed")
)
