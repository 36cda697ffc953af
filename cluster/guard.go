package cluster

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Bounds the guard applies to what peers send.
const (
	// termCeiling: no honest cluster gets near it (a term per election
	// timeout for millions of years); a term at or above it is refused,
	// so the term can never wrap around (raft adds one to it unchecked).
	termCeiling = uint64(1) << 48
	// maxVoteJump: a (pre-)vote may ask for a term at most this far above
	// ours. With pre-vote a candidate is at most one above the cluster's;
	// the margin covers a node that campaigned alone for a while.
	maxVoteJump = uint64(1) << 16
)

// Errors the guard answers refused RPCs with (the sender backs off).
var (
	errTermCeiling   = errors.New("cluster: term at or above the ceiling")
	errTermJump      = errors.New("cluster: vote for a term far above ours")
	errEntries       = errors.New("cluster: malformed entries")
	errNotFromLeader = errors.New("cluster: timeout-now from a node that is not our leader")
)

// guard wraps Raft's transport and refuses, before Raft sees them, RPCs no
// honest member sends: terms near the top of the range (one such RPC
// used to wrap every node's term to 0 and stop elections for good), vote
// requests far above our term, leadership hand-overs from anyone but our
// leader, entries that are not contiguous or newer than their request,
// configuration entries that do not decode (raft panics on them), and
// command entries the checker refuses (the leader's signature). It checks
// the terms in answers to our own calls too.
type guard struct {
	inner raft.Transport
	out   chan raft.RPC
	done  chan struct{}
	// term and leader read our Raft state; set once Raft exists.
	term   atomic.Pointer[func() uint64]
	leader atomic.Pointer[func() raft.ServerID]
	// entry checks a command entry (nil: structure only).
	entry func(*raft.Log) error
	// refused is told of every refusal (metrics, logs).
	refused func(kind string, err error)
}

func newGuard(inner raft.Transport, entry func(*raft.Log) error, refused func(string, error)) *guard {
	g := &guard{inner: inner, out: make(chan raft.RPC), done: make(chan struct{}), entry: entry, refused: refused}
	go g.pump()
	return g
}

// follow lets the guard read the Raft instance it protects.
func (g *guard) follow(r *raft.Raft) {
	term := r.CurrentTerm
	g.term.Store(&term)
	leader := func() raft.ServerID { _, id := r.LeaderWithID(); return id }
	g.leader.Store(&leader)
}

func (g *guard) pump() {
	for {
		select {
		case rpc := <-g.inner.Consumer():
			if err := g.check(rpc.Command); err != nil {
				g.refuse(rpc, err)
				continue
			}
			select {
			case g.out <- rpc:
			case <-g.done:
				return
			}
		case <-g.done:
			return
		}
	}
}

func (g *guard) refuse(rpc raft.RPC, err error) {
	if g.refused != nil {
		g.refused(fmt.Sprintf("%T", rpc.Command), err)
	}
	if rpc.Reader != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(rpc.Reader, 1<<20)) // a small refused snapshot keeps the stream in sync
	}
	rpc.Respond(nil, err)
}

func (g *guard) check(cmd any) error {
	switch c := cmd.(type) {
	case *raft.AppendEntriesRequest:
		if err := g.checkTerm(c.Term, false); err != nil {
			return err
		}
		return g.checkEntries(c)
	case *raft.RequestVoteRequest:
		return g.checkTerm(c.Term, true)
	case *raft.RequestPreVoteRequest:
		return g.checkTerm(c.Term, true)
	case *raft.InstallSnapshotRequest:
		return g.checkTerm(c.Term, false)
	case *raft.TimeoutNowRequest:
		if l := g.leader.Load(); l == nil || (*l)() == "" || raft.ServerID(c.ID) != (*l)() {
			return errNotFromLeader
		}
	}
	return nil
}

func (g *guard) checkTerm(t uint64, vote bool) error {
	if t >= termCeiling {
		return fmt.Errorf("%w: %d", errTermCeiling, t)
	}
	if p := g.term.Load(); vote && p != nil && t > (*p)()+maxVoteJump {
		return fmt.Errorf("%w: %d, ours %d", errTermJump, t, (*p)())
	}
	return nil
}

func (g *guard) checkEntries(c *raft.AppendEntriesRequest) error {
	next := c.PrevLogEntry + 1
	for _, e := range c.Entries {
		if e == nil || e.Index != next || e.Term > c.Term {
			return fmt.Errorf("%w: entry out of sequence at %d", errEntries, next)
		}
		next++
		if err := g.checkEntry(e); err != nil {
			return fmt.Errorf("%w: entry %d: %v", errEntries, e.Index, err)
		}
	}
	return nil
}

func (g *guard) checkEntry(e *raft.Log) (err error) {
	switch e.Type {
	case raft.LogCommand:
		if g.entry != nil {
			return g.entry(e)
		}
	case raft.LogNoop, raft.LogBarrier:
		if len(e.Data) != 0 {
			return errors.New("a no-op or barrier with data")
		}
	case raft.LogConfiguration:
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("configuration does not decode: %v", p)
			}
		}()
		raft.DecodeConfiguration(e.Data)
	default:
		return fmt.Errorf("entry type %v is not used by cnv", e.Type)
	}
	return nil
}

// SetHeartbeatHandler wraps raft's fast path: heartbeats skip Consumer.
func (g *guard) SetHeartbeatHandler(cb func(raft.RPC)) {
	g.inner.SetHeartbeatHandler(func(rpc raft.RPC) {
		if err := g.check(rpc.Command); err != nil {
			g.refuse(rpc, err)
			return
		}
		cb(rpc)
	})
}

func (g *guard) Consumer() <-chan raft.RPC     { return g.out }
func (g *guard) LocalAddr() raft.ServerAddress { return g.inner.LocalAddr() }
func (g *guard) EncodePeer(id raft.ServerID, a raft.ServerAddress) []byte {
	return g.inner.EncodePeer(id, a)
}
func (g *guard) DecodePeer(b []byte) raft.ServerAddress { return g.inner.DecodePeer(b) }

// answer checks the term a peer answered our call with.
func answer(err error, term uint64) error {
	if err == nil && term >= termCeiling {
		return fmt.Errorf("%w: answered %d", errTermCeiling, term)
	}
	return err
}

func (g *guard) AppendEntries(id raft.ServerID, t raft.ServerAddress, a *raft.AppendEntriesRequest, r *raft.AppendEntriesResponse) error {
	return answer(g.inner.AppendEntries(id, t, a, r), r.Term)
}

func (g *guard) RequestVote(id raft.ServerID, t raft.ServerAddress, a *raft.RequestVoteRequest, r *raft.RequestVoteResponse) error {
	return answer(g.inner.RequestVote(id, t, a, r), r.Term)
}

func (g *guard) RequestPreVote(id raft.ServerID, t raft.ServerAddress, a *raft.RequestPreVoteRequest, r *raft.RequestPreVoteResponse) error {
	pv, ok := g.inner.(raft.WithPreVote)
	if !ok {
		return errors.New("cluster: transport without pre-vote")
	}
	return answer(pv.RequestPreVote(id, t, a, r), r.Term)
}

func (g *guard) InstallSnapshot(id raft.ServerID, t raft.ServerAddress, a *raft.InstallSnapshotRequest, r *raft.InstallSnapshotResponse, data io.Reader) error {
	return answer(g.inner.InstallSnapshot(id, t, a, r, data), r.Term)
}

func (g *guard) TimeoutNow(id raft.ServerID, t raft.ServerAddress, a *raft.TimeoutNowRequest, r *raft.TimeoutNowResponse) error {
	return g.inner.TimeoutNow(id, t, a, r) // its answer carries no term
}

// AppendEntriesPipeline pipelines through the inner transport; answers
// with a term at the ceiling are turned into failures (the plain path
// then retries, checked).
func (g *guard) AppendEntriesPipeline(id raft.ServerID, t raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := g.inner.AppendEntriesPipeline(id, t)
	if err != nil {
		return nil, err
	}
	gp := &guardedPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture), done: make(chan struct{})}
	go gp.pump()
	return gp, nil
}

// stop stops the guard's pump.
func (g *guard) stop() {
	select {
	case <-g.done:
	default:
		close(g.done)
	}
}

// Close stops the guard and the inner transport (Raft calls it on
// shutdown, as it would the inner transport's).
func (g *guard) Close() error {
	g.stop()
	if c, ok := g.inner.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

var (
	_ raft.Transport   = (*guard)(nil)
	_ raft.WithPreVote = (*guard)(nil)
	_ raft.WithClose   = (*guard)(nil)
)

type guardedPipeline struct {
	raft.AppendPipeline
	out  chan raft.AppendFuture
	done chan struct{}
	once sync.Once
}

func (p *guardedPipeline) pump() {
	in := p.AppendPipeline.Consumer()
	for {
		var f raft.AppendFuture
		var ok bool
		select {
		case f, ok = <-in:
			if !ok {
				return
			}
		case <-p.done:
			return
		}
		if f.Error() == nil {
			if r := f.Response(); r.Term >= termCeiling {
				r.Term, r.Success = f.Request().Term, false
			}
		}
		select {
		case p.out <- f:
		case <-p.done:
			return
		}
	}
}

func (p *guardedPipeline) Close() error {
	p.once.Do(func() { close(p.done) })
	return p.AppendPipeline.Close()
}

func (p *guardedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }
