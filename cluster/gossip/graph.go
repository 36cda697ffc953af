package gossip

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/limits"
)

// graphState is one installed snapshot with its identity and encoding.
type graphState struct {
	snap *graph.Snapshot
	v    graphVersion
	enc  []byte
}

// graphHolder holds the current snapshot. Readers load it without locks;
// installs are serialized and close changed to wake waiters.
type graphHolder struct {
	mu      sync.Mutex
	cur     atomic.Pointer[graphState]
	changed atomic.Pointer[chan struct{}]
}

func (h *graphHolder) init() {
	ch := make(chan struct{})
	h.changed.Store(&ch)
}

func (h *graphHolder) version() graphVersion {
	if s := h.cur.Load(); s != nil {
		return s.v
	}
	return graphVersion{}
}

// install swaps s in if it is newer than the current snapshot. An equal
// version is a no-op; the same index with another hash is a conflict.
func (h *graphHolder) install(s *graphState) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.cur.Load()
	switch {
	case cur == nil || s.v.index > cur.v.index:
	case s.v == cur.v:
		return false, nil
	case s.v.index == cur.v.index:
		return false, fmt.Errorf("%w: index %d has hash %s here, %s offered", ErrSnapshotMismatch, s.v.index, cur.v.hex(), s.v.hex())
	default:
		return false, fmt.Errorf("%w: index %d offered, %d held", ErrStaleGraph, s.v.index, cur.v.index)
	}
	h.cur.Store(s)
	next := make(chan struct{})
	close(*h.changed.Swap(&next))
	return true, nil
}

// PublishGraph installs a snapshot this server built after a registry
// change and advertises it at once. Snapshots older than the current one
// are refused with ErrStaleGraph; republishing the current one is a no-op.
// A server that already installed a newer snapshot from gossip gets
// ErrStaleGraph for its own older ones, which callers may ignore.
func (g *Gossip) PublishGraph(s *graph.Snapshot) error {
	if g.cfg.Role != RoleServer {
		return ErrNotServer
	}
	if s.RaftIndex() == 0 {
		return fmt.Errorf("%w: a published snapshot needs a raft index", ErrStaleGraph)
	}
	h, err := parseHash(s.Hash())
	if err != nil {
		return err
	}
	return g.install(s, graphVersion{index: s.RaftIndex(), hash: h}, "published")
}

// install swaps in a verified snapshot, then advertises it and wakes
// waiters.
func (g *Gossip) install(s *graph.Snapshot, v graphVersion, source string) error {
	ok, err := g.graph.install(&graphState{snap: s, v: v, enc: s.Encode()})
	if err != nil || !ok {
		return err
	}
	g.log.Debug("graph snapshot installed", "index", v.index, "hash", v.hex(), "source", source)
	if n := len(s.Encode()); n+exchangeOverhead > limits.MaxGossipStateBytes && g.cfg.Fetch == nil {
		g.log.Warn("graph snapshot too large for state exchange; members need Config.Fetch", "bytes", n, "limit", limits.MaxGossipStateBytes)
	}
	kick(g.urgentKick)
	if m, found := g.table.get(g.cfg.NodeID); found {
		m.GraphIndex, m.GraphHash = v.index, v.hex()
		g.emit(Event{Type: EventGraph, Member: m})
	}
	return nil
}

// Graph returns the current snapshot, the Raft index it reflects and its
// hex hash; nil, 0, "" before the first one.
func (g *Gossip) Graph() (*graph.Snapshot, uint64, string) {
	s := g.graph.cur.Load()
	if s == nil {
		return nil, 0, ""
	}
	return s.snap, s.v.index, s.v.hex()
}

// WaitGraph waits until the local snapshot reflects at least minIndex, then
// returns it like Graph. It fails with ctx's error or ErrShutdown.
func (g *Gossip) WaitGraph(ctx context.Context, minIndex uint64) (*graph.Snapshot, uint64, string, error) {
	for {
		ch := *g.graph.changed.Load()
		if s, idx, h := g.Graph(); s != nil && idx >= minIndex {
			return s, idx, h, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, "", ctx.Err()
		case <-g.ctx.Done():
			return nil, 0, "", ErrShutdown
		}
	}
}

// adoptEncoded verifies snapshot bytes against the version their source
// advertised and installs them. A snapshot that does not decode or does
// not match is logged and refused; the current one stays.
func (g *Gossip) adoptEncoded(b []byte, want graphVersion, source string) error {
	err := g.verifyAndInstall(b, want, source)
	if err != nil {
		g.log.Warn("graph snapshot rejected", "source", source, "index", want.index, "hash", want.hex(), "error", err)
	}
	return err
}

func (g *Gossip) verifyAndInstall(b []byte, want graphVersion, source string) error {
	s, err := graph.Decode(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotMismatch, err)
	}
	h, err := parseHash(s.Hash())
	if err != nil {
		return err
	}
	got := graphVersion{index: s.RaftIndex(), hash: h}
	if got != want {
		return fmt.Errorf("%w: got index %d hash %s, advertised index %d hash %s", ErrSnapshotMismatch, got.index, got.hex(), want.index, want.hex())
	}
	return g.install(s, got, source)
}
