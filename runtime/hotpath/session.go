package hotpath

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Sink receives a session's completions, on the session's shard worker
// goroutine, in the order the invocations finished: submission order,
// except that an invocation waiting for a retry lets later ones pass it.
// Complete may be called many times before one Flush; Flush marks the end
// of a run (up to RunLength completions), the moment to write out a
// batched response. Neither may block for long: the shard waits.
// The *Completion is reused after Complete returns.
type Sink interface {
	Complete(s *Session, c *Completion)
	Flush(s *Session)
}

// SessionOptions describe a session: one principal (agent, tenant) invoking
// one capability under one authorisation (in the cluster, a certificate).
type SessionOptions struct {
	// Key names the session in its batches (e.g. the certificate ID).
	Key    string
	Agent  AgentHandle
	Tenant TenantHandle
	// CapIndex is the capability's index in the handler table.
	CapIndex uint32
	// Correlation is the correlation hash recorded with every invocation.
	Correlation uint64
	// Allowed are the effect flags the session's authorisation permits; the
	// capability's flags must lie within them. AllFlags allows everything.
	Allowed capability.Flags
	// Sink receives the completions.
	Sink Sink
	// Quota, when set, is charged one use per accepted invocation (a use
	// refused at submission is given back).
	Quota *Quota
	// Window bounds invocations in flight; 0 takes Config.SessionWindow.
	Window int
}

// Session is a stream of invocations by one principal of one capability,
// pinned to the shard of its tenant. Submit is safe for concurrent use, but
// completions are ordered per session only for a single submitter.
type Session struct {
	// Written by submitters.
	submitted atomic.Int64
	closed    atomic.Bool
	_         [cacheLine]byte
	// Written by the worker at the end of each run.
	completed atomic.Int64
	_         [cacheLine]byte

	d         *Dispatcher
	sh        *shard
	ent       *entry
	key       string
	ctx       Context
	sink      Sink
	quota     *Quota
	tenantLim *limiter
	window    int64
	seed      uint64
	closeOnce sync.Once
	closeDone chan struct{}

	// Worker-owned.
	done         int64
	runMark      uint64
	inBatchDirty bool
	batch        batchState
}

// OpenSession validates o against the registered capability and returns a
// session on the tenant's shard.
func (d *Dispatcher) OpenSession(o SessionOptions) (*Session, error) {
	if d.state.Load() != stateRunning {
		return nil, ErrNotStarted
	}
	if err := o.validate(d.cfg); err != nil {
		return nil, err
	}
	e := d.lookup(o.CapIndex)
	if e == nil {
		return nil, fmt.Errorf("%w: %d", ErrNoHandler, o.CapIndex)
	}
	if !Within(e.spec.Flags, o.Allowed) {
		return nil, fmt.Errorf("%w: capability %d has flags %#x, session allows %#x",
			ErrEffectNotAllowed, o.CapIndex, uint16(e.spec.Flags), uint16(o.Allowed))
	}
	window := o.Window
	if window == 0 {
		window = d.cfg.SessionWindow
	}
	s := &Session{
		d: d, sh: d.shards[d.ShardOf(o.Tenant)], ent: e, key: o.Key,
		ctx:  Context{Agent: o.Agent, Tenant: o.Tenant, Correlation: o.Correlation, CapIndex: o.CapIndex, Flags: e.spec.Flags},
		sink: o.Sink, quota: o.Quota, window: int64(window),
		seed: CorrelationHash(o.Key), closeDone: make(chan struct{}),
	}
	s.batch.disabled = d.cfg.BatchSink == nil
	if !s.batch.disabled {
		s.batch.dg.h = sha256.New()
	}
	s.tenantLim = d.tenantLimiterFor(o.Tenant, e)
	return s, nil
}

func (o SessionOptions) validate(cfg Config) error {
	switch {
	case o.Key == "" || len(o.Key) > limits.MaxIDLen:
		return fmt.Errorf("%w: key must be 1..%d bytes, got %d", ErrBadSession, limits.MaxIDLen, len(o.Key))
	case o.Sink == nil:
		return fmt.Errorf("%w: no sink", ErrBadSession)
	case o.Window < 0 || o.Window > limits.MaxSessionWindow:
		return fmt.Errorf("%w: window %d outside [0, %d]", ErrBadSession, o.Window, limits.MaxSessionWindow)
	}
	return nil
}

// Key is the session's key.
func (s *Session) Key() string { return s.key }

// Context is the session's pre-resolved invocation context.
func (s *Session) Context() Context { return s.ctx }

// Shard is the shard the session runs on.
func (s *Session) Shard() int { return s.sh.id }

// InFlight is how many of the session's invocations were accepted and have
// not completed (as of the worker's last run).
func (s *Session) InFlight() int64 { return s.submitted.Load() - s.completed.Load() }

// Request is one invocation in a SubmitBatch.
type Request struct {
	Seq  uint64
	Args []byte
}

// Submit queues one invocation. seq is the caller's number for it, echoed
// in its Completion; args are borrowed until the completion is delivered.
// It never blocks: a refusal returns ErrShardFull, ErrSessionWindow,
// ErrConcurrencyLimit, ErrQuotaExhausted, ErrSessionClosed or ErrStopped,
// and a refused invocation was not accepted (no completion will come, no
// quota was spent).
func (s *Session) Submit(seq uint64, args []byte) error {
	if err := s.submit(seq, args); err != nil {
		return err
	}
	s.sh.signal()
	return nil
}

// SubmitBatch queues reqs in order until the first refusal and returns how
// many were accepted, with the refusal. The worker is woken once.
func (s *Session) SubmitBatch(reqs []Request) (int, error) {
	for i := range reqs {
		if err := s.submit(reqs[i].Seq, reqs[i].Args); err != nil {
			if i > 0 {
				s.sh.signal()
			}
			return i, err
		}
	}
	if len(reqs) > 0 {
		s.sh.signal()
	}
	return len(reqs), nil
}

func (s *Session) submit(seq uint64, args []byte) error {
	if err := s.admit(); err != nil {
		s.sh.rejected.Add(1)
		return err
	}
	if s.sh.q.TryPush(invocation{s: s, seq: seq, args: args}) {
		return nil
	}
	s.unadmit(true)
	s.sh.rejected.Add(1)
	if s.sh.q.Closed() {
		return ErrStopped
	}
	return ErrShardFull
}

// admit takes the session's window slot, the concurrency slots and a quota
// use, in that order, giving back what it took on a refusal. The window
// slot is taken before the closed check, so that Close, which sets closed
// and then waits for submitted == completed, can never miss an invocation
// that is about to be pushed.
func (s *Session) admit() error {
	n := s.submitted.Add(1)
	if s.closed.Load() {
		s.submitted.Add(-1)
		s.sh.signal()
		return ErrSessionClosed
	}
	if n-s.completed.Load() > s.window {
		s.submitted.Add(-1)
		return ErrSessionWindow
	}
	if !s.tenantLim.acquire() {
		s.unadmitWindow()
		return ErrConcurrencyLimit
	}
	if !s.ent.global.acquire() {
		s.tenantLim.release()
		s.unadmitWindow()
		return ErrConcurrencyLimit
	}
	if s.quota != nil {
		if err := s.quota.TrySpend(1); err != nil {
			s.ent.global.release()
			s.tenantLim.release()
			s.unadmitWindow()
			return err
		}
	}
	return nil
}

// unadmit gives back everything admit took.
func (s *Session) unadmit(quota bool) {
	if quota && s.quota != nil {
		s.quota.refund(1)
	}
	s.ent.global.release()
	s.tenantLim.release()
	s.unadmitWindow()
}

// unadmitWindow gives back the window slot; a close waiting for this
// session to go quiet is re-checked.
func (s *Session) unadmitWindow() {
	s.submitted.Add(-1)
	if s.closed.Load() {
		s.sh.signal()
	}
}

// Close refuses further submissions, waits until every accepted invocation
// has completed and its session's final batch (Final set) has been handed
// to the BatchSink, and releases the session's resources. If ctx expires
// first it returns ErrCloseTimedOut and the close completes in the
// background. Closing twice waits for the same close.
func (s *Session) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if !s.sh.enqueue(ctlOp{kind: opClose, s: s, done: s.closeDone}) {
			close(s.closeDone) // the shard has exited; Stop cut everything
		}
	})
	select {
	case <-s.closeDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %d in flight: %w", ErrCloseTimedOut, s.InFlight(), ctx.Err())
	}
}
