package testcluster

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// startMem starts n over a new InmemTransport at its fixed address,
// connected to every running node it may reach, on its kept stores.
func (c *Cluster) startMem(n *Node, boot bool) *running {
	c.t.Helper()
	_, trans := raft.NewInmemTransport(n.raftAddr)
	rem := &memRemote{c: c, self: n}
	cfg := c.config(n, boot, c.logger(n.ID))
	cfg.Transport, cfg.LogStore, cfg.StableStore, cfg.SnapshotStore = trans, n.logs, n.logs, n.snaps
	cfg.Remote = rem
	if c.opts.Tune != nil {
		c.opts.Tune(n, &cfg)
	}
	r := &running{trans: trans}
	c.mu.Lock()
	for _, o := range c.nodes {
		if or := o.cur.Load(); o != n && or != nil && or.trans != nil && o.group == n.group {
			trans.Connect(o.raftAddr, or.trans)
			or.trans.Connect(n.raftAddr, trans)
		}
	}
	c.mu.Unlock()
	cn, err := cluster.New(cfg)
	if err != nil {
		c.disconnect(n, r)
		c.t.Fatalf("start %s: %v", n.ID, err)
	}
	r.node = cn
	rem.local.Store(cn)
	return r
}

// disconnect cuts n's transport off from every other node (it is
// stopping: peers fail fast instead of waiting for it).
func (c *Cluster) disconnect(n *Node, r *running) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.nodes {
		if or := o.cur.Load(); o != n && or != nil && or.trans != nil {
			or.trans.Disconnect(n.raftAddr)
		}
	}
	r.trans.Close()
}

// Partition cuts the given nodes off from the others (they still reach
// each other): Raft traffic and node-to-node calls. A stopped node may be
// partitioned: it restarts cut off. In memory only.
func (c *Cluster) Partition(nodes ...*Node) {
	c.t.Helper()
	if c.opts.HTTP {
		c.t.Fatal("testcluster: Partition needs the in-memory flavour")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := 0
	for _, o := range c.nodes {
		g = max(g, o.group)
	}
	for _, n := range nodes {
		n.group = g + 1
	}
	c.relinkLocked()
}

// Heal undoes every partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.nodes {
		o.group = 0
	}
	c.relinkLocked()
}

func (c *Cluster) relinkLocked() {
	for _, a := range c.nodes {
		ar := a.cur.Load()
		if ar == nil || ar.trans == nil {
			continue
		}
		for _, b := range c.nodes {
			br := b.cur.Load()
			if a == b || br == nil || br.trans == nil {
				continue
			}
			if a.group == b.group {
				ar.trans.Connect(b.raftAddr, br.trans)
			} else {
				ar.trans.Disconnect(b.raftAddr)
			}
		}
	}
}

// reachable reports whether a may call b (same partition).
func (c *Cluster) reachable(a, b *Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return a.group == b.group
}

func (c *Cluster) byID(id string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (c *Cluster) byAPI(addr string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.apiAddr == addr {
			return n
		}
	}
	return nil
}

// errUnreachable is a call across a partition or to a node that is down:
// what peer reports for a transport failure.
var errUnreachable = cnverr.New(cnverr.Unavailable, "peer unreachable")

// call runs f on target as if from, across the "network".
func call[T any](from, target *Node, f func(*cluster.Node) (T, error)) (T, error) {
	if target == nil || !from.c.reachable(from, target) {
		var zero T
		return zero, errUnreachable
	}
	v, err := with(target, f)
	if errors.Is(err, errDown) {
		err = errUnreachable
	}
	return v, err
}

// toLeader runs f on the leader as from's node sees it, the way
// forward does: wait (up to the hold time) for a leader, try it, and
// again while the answer is "not the leader".
func toLeader[T any](ctx context.Context, from *Node, local *cluster.Node, f func(*cluster.Node) (T, error)) (T, error) {
	var zero T
	hold := time.NewTimer(from.c.opts.Hold)
	defer hold.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, addr := local.Leader(); id != "" && addr != "" {
			v, err := call(from, from.c.byID(id), f)
			if !errors.Is(err, cluster.ErrNotLeader) {
				return v, err
			}
		}
		select {
		case <-tick.C:
		case <-hold.C:
			return zero, cluster.ErrNoLeader
		case <-ctx.Done():
			return zero, errors.Join(cluster.ErrNoLeader, ctx.Err())
		case <-local.Done():
			return zero, cluster.ErrShutdown
		}
	}
}

// memRemote is an in-memory node's cluster.Remote.
type memRemote struct {
	c     *Cluster
	self  *Node
	local atomic.Pointer[cluster.Node]
}

var _ cluster.Remote = (*memRemote)(nil)

func (m *memRemote) node() (*cluster.Node, error) {
	if l := m.local.Load(); l != nil {
		return l, nil
	}
	return nil, cluster.ErrNoLeader
}

// Join asks the member at apiAddr, which adds the server when it leads
// and otherwise relays the request to its leader (the join handler).
func (m *memRemote) Join(ctx context.Context, apiAddr string, req cluster.JoinRequest) error {
	target := m.c.byAPI(apiAddr)
	_, err := call(m.self, target, func(tn *cluster.Node) (struct{}, error) {
		err := tn.AddServer(ctx, req)
		if errors.Is(err, cluster.ErrNotLeader) {
			return toLeader(ctx, target, tn, func(l *cluster.Node) (struct{}, error) { return struct{}{}, l.AddServer(ctx, req) })
		}
		return struct{}{}, err
	})
	return err
}

func (m *memRemote) ReadIndex(ctx context.Context) (uint64, error) {
	l, err := m.node()
	if err != nil {
		return 0, err
	}
	return toLeader(ctx, m.self, l, func(l *cluster.Node) (uint64, error) { return l.ReadIndex(ctx) })
}

func (m *memRemote) RegisterNode(ctx context.Context, rec cluster.SignedNode) error {
	l, err := m.node()
	if err != nil {
		return err
	}
	_, err = toLeader(ctx, m.self, l, func(l *cluster.Node) (struct{}, error) { return struct{}{}, l.RegisterNode(ctx, rec) })
	return err
}

func (m *memRemote) Remove(ctx context.Context, req cluster.RemoveRequest) error {
	l, err := m.node()
	if err != nil {
		return err
	}
	_, err = toLeader(ctx, m.self, l, func(l *cluster.Node) (struct{}, error) { return struct{}{}, l.RemoveServer(ctx, req) })
	return err
}

func (m *memRemote) Propose(ctx context.Context, sp cluster.SignedProposal) ([]fsm.Result, error) {
	l, err := m.node()
	if err != nil {
		return nil, err
	}
	return toLeader(ctx, m.self, l, func(l *cluster.Node) ([]fsm.Result, error) { return l.HandleProposal(ctx, sp) })
}

// SnapshotStore is a raft.InmemSnapshotStore (it keeps the newest
// snapshot) that counts the snapshots written to it — taken by the node
// or installed from the leader — so a test can tell that one was.
type SnapshotStore struct {
	*raft.InmemSnapshotStore
	written atomic.Int64
}

// NewSnapshotStore returns an empty store.
func NewSnapshotStore() *SnapshotStore {
	return &SnapshotStore{InmemSnapshotStore: raft.NewInmemSnapshotStore()}
}

// Written is how many snapshots were completely written to the store.
func (s *SnapshotStore) Written() int64 { return s.written.Load() }

// Latest is the newest snapshot's metadata (false when there is none).
func (s *SnapshotStore) Latest() (raft.SnapshotMeta, bool) {
	metas, err := s.List()
	if err != nil || len(metas) == 0 {
		return raft.SnapshotMeta{}, false
	}
	return *metas[0], true
}

// Create implements raft.SnapshotStore.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.InmemSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	return &countingSink{SnapshotSink: sink, s: s}, nil
}

type countingSink struct {
	raft.SnapshotSink
	s *SnapshotStore
}

func (k *countingSink) Close() error {
	err := k.SnapshotSink.Close()
	if err == nil {
		k.s.written.Add(1)
	}
	return err
}
