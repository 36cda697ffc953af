package server

import (
	"context"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// session is one hot-path session of a server connection and the
// dispatcher Sink of its invocations.
//
// Arguments are borrowed from the connection's read chunks, so the session
// records, for every invocation in flight, the chunk its arguments live in:
// a ring written by the reader (tail) and consumed by the shard worker
// (head) as completions arrive. Completions come in submission order except
// when a retry lets later invocations pass; an out-of-order completion is
// marked done in place and popped when the head reaches it. A submission the
// dispatcher refuses is retracted before anything else is pushed; sequence
// numbers strictly increase, so a retracted slot can never match a
// completion.
type session struct {
	c      *conn
	id     uint32
	grant  Grant
	hs     *hotpath.Session
	window int

	dead    atomic.Uint32 // code of the error that ended it
	refused atomic.Uint64

	// Reader-owned.
	lastSeq uint64
	tail    uint64

	// The in-flight ring.
	tailPub atomic.Uint64
	head    atomic.Uint64
	ring    []slot
	mask    uint64

	// Worker-owned.
	whead     uint64
	completed uint64
	out       []byte
	relChunk  *chunk
	relN      int64

	usage     Usage // set by teardown
	once      sync.Once
	stopWatch chan struct{}
	done      chan struct{}
}

type slot struct {
	seq  atomic.Uint64
	ch   *chunk
	done bool // completed out of order (worker-owned)
}

func newSession(c *conn, g Grant, window int) *session {
	n := 1 << bits.Len(uint(2*window-1)) // a power of two ≥ 2 × window
	return &session{
		c: c, grant: g, window: window, ring: make([]slot, n), mask: uint64(n - 1),
		stopWatch: make(chan struct{}), done: make(chan struct{}),
	}
}

// invoke submits one invocation whose arguments live in ch (nil when they
// were read outside the chunks). A non-nil error is the refusal to send.
func (s *session) invoke(seq uint64, args []byte, ch *chunk, now int64) error {
	if seq <= s.lastSeq {
		return proto.ErrSeqOrder
	}
	s.lastSeq = seq
	if len(args) > limits.MaxHotArgsBytes || ch == nil {
		return proto.ErrArgsTooLarge
	}
	if code := s.dead.Load(); code != 0 {
		return proto.Sentinel(uint8(code))
	}
	if s.grant.ExpiresAt != 0 && now > s.grant.ExpiresAt {
		s.kill(proto.ErrSessionExpired)
		return proto.ErrSessionExpired
	}
	t := s.tail
	if t-s.head.Load() >= uint64(len(s.ring)) {
		return hotpath.ErrSessionWindow
	}
	sl := &s.ring[t&s.mask]
	sl.seq.Store(seq)
	sl.ch = ch
	s.tailPub.Store(t + 1)
	if err := s.hs.Submit(seq, args); err != nil {
		s.tailPub.Store(t)
		return err
	}
	s.tail = t + 1
	ch.subs++
	return nil
}

// Complete implements hotpath.Sink: it frees the invocation's arguments and
// appends its result to the session's response buffer.
func (s *session) Complete(_ *hotpath.Session, c *hotpath.Completion) {
	s.release(c.Seq)
	s.completed++
	switch {
	case c.Outcome == hotpath.OutcomeOK && len(c.Output) > limits.MaxHotOutputBytes:
		s.out = proto.AppendResultErr(s.out, s.id, c.Seq, c.Outcome, c.Attempts, proto.ErrOutputTooLarge)
	case c.Outcome == hotpath.OutcomeOK:
		s.out = proto.AppendResultOK(s.out, s.id, c.Seq, c.Attempts, c.Output)
	default:
		s.out = proto.AppendResultErr(s.out, s.id, c.Seq, c.Outcome, c.Attempts, outcomeErr(c))
	}
}

// Flush implements hotpath.Sink: one push of the run's responses.
func (s *session) Flush(*hotpath.Session) {
	s.flushReleases()
	if len(s.out) > 0 {
		s.c.out.Push(s.out)
		s.out = s.out[:0]
	}
}

func outcomeErr(c *hotpath.Completion) error {
	if c.Err != nil {
		return c.Err
	}
	switch c.Outcome {
	case hotpath.OutcomeDeadlineExceeded:
		return hotpath.ErrDeadline
	case hotpath.OutcomeAborted:
		return hotpath.ErrAborted
	}
	return hotpath.ErrHandlerPanic
}

// release finds seq's slot: at the head (the usual case) it pops it and any
// out-of-order completions behind it; elsewhere it marks it done.
func (s *session) release(seq uint64) {
	h, t := s.whead, s.tailPub.Load()
	if h < t && s.ring[h&s.mask].seq.Load() == seq {
		s.pop(h)
		for h++; h < t && s.ring[h&s.mask].done; h++ {
			s.ring[h&s.mask].done = false
			s.pop(h)
		}
		s.whead = h
		s.head.Store(h)
		return
	}
	for i := h + 1; i < t; i++ {
		if sl := &s.ring[i&s.mask]; !sl.done && sl.seq.Load() == seq {
			sl.done = true
			return
		}
	}
	s.c.log.Error("completion for an unknown invocation", "session", s.id, "seq", seq)
}

// pop counts one release against the slot's chunk, coalescing consecutive
// releases of the same chunk into one atomic add.
func (s *session) pop(h uint64) {
	sl := &s.ring[h&s.mask]
	ch := sl.ch
	sl.ch = nil
	if ch == s.relChunk {
		s.relN++
		return
	}
	s.flushReleases()
	s.relChunk, s.relN = ch, 1
}

func (s *session) flushReleases() {
	if s.relChunk != nil {
		s.relChunk.release(s.relN)
		s.relChunk, s.relN = nil, 0
	}
}

// kill ends the session for err (expiry, revocation): later invocations are
// refused with it, the client is told, and the session is torn down in the
// background. The session stays known until the client closes it, so every
// refusal names the reason.
func (s *session) kill(err error) {
	if !s.dead.CompareAndSwap(0, uint32(proto.CodeOf(err))) {
		return
	}
	m := proto.NewErrorMsg(err)
	m.Session = s.id
	s.c.sendControl(proto.FrameError, m)
	go s.teardown()
}

// watch kills the session when its grant is revoked.
func (s *session) watch() {
	select {
	case <-s.grant.Revoked:
		s.kill(proto.ErrRevoked)
	case <-s.stopWatch:
	}
}

// teardown closes the dispatcher session (every accepted invocation
// completes and is answered), then tells the authority. It runs once; later
// calls wait for the first.
func (s *session) teardown() {
	s.once.Do(func() {
		srv := s.c.srv
		ctx, cancel := context.WithTimeout(context.Background(), srv.cfg.CloseTimeout)
		defer cancel()
		var u Usage
		if err := s.hs.Close(ctx); err != nil {
			s.c.log.Warn("session close timed out; it completes in the background", "session", s.id, "error", err)
			u.Accepted = s.tailPub.Load()
		} else {
			s.Flush(s.hs) // the worker is done with the session
			u.Accepted = s.completed
		}
		close(s.stopWatch)
		u.Refused = s.refused.Load()
		s.usage = u
		if err := srv.cfg.Authority.CloseSession(ctx, s.grant, u); err != nil {
			s.c.log.Warn("authority close failed", "session", s.id, "key", s.grant.Key, "error", err)
		}
		s.c.forget(s)
		close(s.done)
	})
	<-s.done
}
