package client

import (
	"context"
	"fmt"
	"math/bits"
	"sync"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// SessionInfo describes an open session as the server granted it.
type SessionInfo struct {
	ID         uint32 `json:"session"`
	Key        string `json:"key"`
	Capability string `json:"capability"`
	Agent      string `json:"agent"`
	Tenant     string `json:"tenant"`
	Window     int    `json:"window"`
	Shard      int    `json:"shard"`
	ExpiresAt  int64  `json:"expires_at"`
}

// Result is the answer to one invocation, as a Submit callback sees it.
type Result struct {
	Seq      uint64
	Outcome  hotpath.Outcome
	Attempts int
	// Refused means the server did not accept the invocation (back-pressure,
	// expiry, ...): it did not run and spent no quota, so it may be retried.
	Refused bool
	// Output is the handler's answer, borrowed: valid only during the
	// callback.
	Output []byte
	// Err is nil for an OK outcome; for a refusal or a failure it is the
	// server's error, a well-known sentinel where there is one
	// (hotpath.ErrShardFull, hotpath.ErrQuotaExhausted, proto.ErrSessionExpired,
	// ...), so errors.Is works.
	Err error
}

// Call is an invocation made with Go: like net/rpc's Call, it is sent on
// Done when it completes, and its Output is its own copy.
type Call struct {
	Args     []byte
	Seq      uint64
	Outcome  hotpath.Outcome
	Attempts int
	Refused  bool
	Output   []byte
	Err      error
	Done     chan *Call
}

func (c *Call) finish(r *Result) {
	c.Seq, c.Outcome, c.Attempts, c.Refused, c.Err = r.Seq, r.Outcome, r.Attempts, r.Refused, r.Err
	if r.Output != nil {
		c.Output = append([]byte(nil), r.Output...)
	}
	select {
	case c.Done <- c:
	default: // the caller gave a channel without room, as net/rpc allows
	}
}

// Session is a client's hot-path session. Submit, Go and Invoke are safe
// for concurrent use; each blocks while the session's window is full.
type Session struct {
	c    *Conn
	info SessionInfo

	mu       sync.Mutex
	cond     sync.Cond
	next     uint64
	inflight int
	waiters  int
	slots    []cslot
	mask     uint64
	err      error // set when no more submissions are possible
}

type cslot struct {
	seq  uint64
	busy bool
	fn   func(*Result)
	call *Call
}

// OpenSession presents a certificate (its wire-form JSON) and opens a
// session for it, proving possession of Options.Key.
func (c *Conn) OpenSession(ctx context.Context, certificateJSON []byte) (*Session, error) {
	if c.opts.Key == nil {
		return nil, fmt.Errorf("%w: no key to prove the certificate's holder", proto.ErrBadConfig)
	}
	if len(certificateJSON) > limits.MaxHotCertificateBytes {
		return nil, fmt.Errorf("%w: certificate of %d bytes, a session takes at most %d", proto.ErrBadConfig, len(certificateJSON), limits.MaxHotCertificateBytes)
	}
	sig, pub := proto.SignProof(c.opts.Key, c.welcome.Challenge, certificateJSON)
	r, err := c.request(ctx, proto.FrameOpen, func(id uint64) any {
		return proto.OpenMsg{ID: id, Certificate: certificateJSON, PublicKey: pub, Signature: sig, Window: c.opts.Window}
	})
	if err != nil {
		return nil, err
	}
	m, ok := r.msg.(proto.OpenedMsg)
	if !ok {
		return nil, fmt.Errorf("%w: open answered with %s", proto.ErrProtocol, r.t)
	}
	s := newClientSession(c, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	c.sessions[m.Session] = s
	return s, nil
}

func newClientSession(c *Conn, m proto.OpenedMsg) *Session {
	w := max(m.Window, 1)
	n := 1 << bits.Len(uint(2*w-1))
	s := &Session{
		c: c, next: 1, slots: make([]cslot, n), mask: uint64(n - 1),
		info: SessionInfo{ID: m.Session, Key: m.Key, Capability: m.Capability, Agent: m.Agent,
			Tenant: m.Tenant, Window: w, Shard: m.Shard, ExpiresAt: m.ExpiresAt},
	}
	s.cond.L = &s.mu
	return s
}

// nextSeq is the sequence number the next Submit will get.
func (s *Session) nextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Info describes the session.
func (s *Session) Info() SessionInfo { return s.info }

// Submit sends one invocation and calls fn with its result on the
// connection's reader goroutine (fn must not block; the *Result and its
// Output are valid only during the call). It blocks while the window is
// full and fails only when the session or connection has ended. Sequence
// numbers are assigned in call order.
func (s *Session) Submit(args []byte, fn func(*Result)) error {
	return s.submit(args, fn, nil)
}

// Go sends one invocation and returns at once; the Call is sent on done
// (a new channel when nil) when it completes.
func (s *Session) Go(args []byte, done chan *Call) *Call {
	if done == nil {
		done = make(chan *Call, 1)
	}
	call := &Call{Args: args, Done: done}
	if err := s.submit(args, nil, call); err != nil {
		call.finish(&Result{Err: err})
	}
	return call
}

// Invoke sends one invocation and waits for its result: the output, or the
// error of a refusal or failure.
func (s *Session) Invoke(ctx context.Context, args []byte) ([]byte, error) {
	call := s.Go(args, make(chan *Call, 1))
	select {
	case <-call.Done:
		return call.Output, call.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Session) submit(args []byte, fn func(*Result), call *Call) error {
	s.mu.Lock()
	for s.err == nil && (s.inflight >= s.info.Window || s.slots[s.next&s.mask].busy) {
		s.waiters++
		s.cond.Wait()
		s.waiters--
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	seq, id := s.next, s.info.ID
	// Appending under s.mu keeps the frames in sequence order.
	if !s.c.out.AppendWith(func(b []byte) []byte { return proto.AppendInvoke(b, id, seq, args) }) {
		s.mu.Unlock()
		return proto.ErrConnClosed
	}
	s.slots[seq&s.mask] = cslot{seq: seq, busy: true, fn: fn, call: call}
	s.inflight++
	s.next++
	s.mu.Unlock()
	s.c.out.Kick()
	return nil
}

// deliver hands a result to its waiter (reader goroutine).
func (s *Session) deliver(r *proto.ResultFrame) {
	if s == nil {
		return
	}
	s.mu.Lock()
	sl := &s.slots[r.Seq&s.mask]
	if !sl.busy || sl.seq != r.Seq {
		s.mu.Unlock()
		s.c.log.Warn("result for an unknown invocation", "session", r.Session, "seq", r.Seq)
		return
	}
	fn, call := sl.fn, sl.call
	*sl = cslot{}
	s.inflight--
	if s.waiters > 0 {
		s.cond.Signal()
	}
	s.mu.Unlock()
	res := &s.c.res
	*res = Result{Seq: r.Seq, Outcome: r.Outcome, Attempts: int(r.Attempts), Refused: r.Refused, Output: r.Output, Err: r.Err()}
	if fn != nil {
		fn(res)
	} else if call != nil {
		call.finish(res)
	}
	*res = Result{}
}

// kill records that the server ended the session: later submissions fail
// with err; invocations in flight are still answered.
func (s *Session) kill(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

// end fails every invocation in flight with err (the connection ended or
// the session closed).
func (s *Session) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	var failed []cslot
	for i := range s.slots {
		if s.slots[i].busy {
			failed = append(failed, s.slots[i])
			s.slots[i] = cslot{}
		}
	}
	s.inflight = 0
	s.cond.Broadcast()
	s.mu.Unlock()
	for _, sl := range failed {
		r := Result{Seq: sl.seq, Err: err}
		if sl.fn != nil {
			sl.fn(&r)
		} else if sl.call != nil {
			sl.call.finish(&r)
		}
	}
}

// CloseReport is what the server counted for a closed session.
type CloseReport struct {
	Accepted uint64 `json:"accepted"`
	Refused  uint64 `json:"refused"`
}

// Close closes the session: the server answers every invocation in flight,
// closes its dispatcher session (the final ledger batch) and hands unused
// quota back, then replies.
func (s *Session) Close(ctx context.Context) (CloseReport, error) {
	s.kill(hotpath.ErrSessionClosed)
	r, err := s.c.request(ctx, proto.FrameClose, func(id uint64) any { return proto.CloseMsg{ID: id, Session: s.info.ID} })
	s.c.mu.Lock()
	delete(s.c.sessions, s.info.ID)
	s.c.mu.Unlock()
	s.end(hotpath.ErrSessionClosed)
	if err != nil {
		return CloseReport{}, err
	}
	m, _ := r.msg.(proto.ClosedMsg)
	return CloseReport{Accepted: m.Accepted, Refused: m.Refused}, nil
}
