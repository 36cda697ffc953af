package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Consistency is a read's consistency level.
type Consistency string

const (
	// Linearizable reads reflect every write acknowledged before the read
	// began (read-index through the leader).
	Linearizable Consistency = "linearizable"
	// Stale reads answer from local state and say which index they reflect.
	Stale Consistency = "stale"
)

// ParseConsistency parses a consistency name ("" means def).
func ParseConsistency(s string, def Consistency) (Consistency, error) {
	switch Consistency(s) {
	case "":
		return def, nil
	case Linearizable, Stale:
		return Consistency(s), nil
	}
	return "", cnverr.New(cnverr.InvalidInput, "consistency %q: want linearizable or stale", s)
}

// ReadIndex returns an index at which a linearizable read may be served:
// the commit index, taken after this leader has committed an entry of its
// own term, and confirmed by a quorum still following it. Leader only.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if !n.IsLeader() {
		return 0, ErrNotLeader
	}
	if err := n.termBarrier(); err != nil {
		return 0, err
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, raftErr(err)
	}
	return idx, nil
}

// termBarrier makes sure an entry of the current term is applied (once
// per term): before that the commit index may lag the previous leader's.
func (n *Node) termBarrier() error {
	term := n.raft.CurrentTerm()
	if n.barrierTerm.Load() == term {
		return nil
	}
	if err := n.raft.Barrier(10 * time.Second).Error(); err != nil {
		return raftErr(err)
	}
	n.barrierTerm.Store(term)
	return nil
}

// Read prepares a read at the given consistency and returns the applied
// index the local state reflects once it may be served. Linearizable reads
// on a follower ask the leader for its read index; stale reads wait (up to
// limits.MaxReadWait) for minIndex.
func (n *Node) Read(ctx context.Context, c Consistency, minIndex uint64) (uint64, error) {
	want := minIndex
	if c == Linearizable {
		idx, err := n.ReadIndex(ctx)
		if errors.Is(err, ErrNotLeader) {
			idx, err = n.cfg.Remote.ReadIndex(ctx)
		}
		if err != nil {
			return 0, err
		}
		want = max(want, idx)
	}
	if err := n.WaitApplied(ctx, want); err != nil {
		return 0, err
	}
	return n.applied.current(), nil
}

// WaitApplied waits until the local state reflects index i, at most
// limits.MaxReadWait. Raft hands only commands and configuration changes
// to the FSM, so an i that falls on a no-op or barrier entry is reached
// when every entry after the FSM's last index up to i is one of those.
func (n *Node) WaitApplied(ctx context.Context, i uint64) error {
	ctx, cancel := context.WithTimeout(ctx, limits.MaxReadWait)
	defer cancel()
	for {
		if n.applied.current() >= i || n.onlyMarkersUpTo(i) {
			return nil
		}
		step, stop := context.WithTimeout(ctx, 10*time.Millisecond)
		err := n.applied.wait(step, i)
		stop()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrShutdown) {
			return cnverr.New(cnverr.DeadlineExceeded, "index %d not applied here (at %d): %v", i, n.applied.current(), err)
		}
	}
}

// onlyMarkersUpTo reports whether raft has handed every entry up to i to
// the FSM and those after the FSM's last applied index are no-ops or
// barriers (which change no state). It looks at most 64 entries.
func (n *Node) onlyMarkersUpTo(i uint64) bool {
	cur := n.applied.current()
	if i > n.raft.AppliedIndex() || i-cur > 64 {
		return false
	}
	var l raft.Log
	for j := cur + 1; j <= i; j++ {
		if err := n.logs.GetLog(j, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

// AppliedIndex is the last index applied to the local state.
func (n *Node) AppliedIndex() uint64 { return n.applied.current() }

// Status is a node's view of itself and the cluster.
type Status struct {
	NodeID       string          `json:"node_id"`
	KeyID        principal.KeyID `json:"key_id"`
	State        string          `json:"state"`
	Leader       string          `json:"leader"`
	LeaderID     string          `json:"leader_id"`
	Term         uint64          `json:"term"`
	CommitIndex  uint64          `json:"commit_index"`
	AppliedIndex uint64          `json:"applied_index"`
	LastIndex    uint64          `json:"last_index"`
	LedgerSize   uint64          `json:"ledger_size"`
	LedgerRoot   string          `json:"ledger_root"`
	Bootstrapped bool            `json:"bootstrapped"`
	RaftAddr     string          `json:"raft_addr"`
	APIAddr      string          `json:"api_addr"`
	GossipAddr   string          `json:"gossip_addr,omitempty"`
}

// Status reports the node's state.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	head := n.store.Head()
	return Status{
		NodeID: n.cfg.NodeID, KeyID: n.keyID, State: n.raft.State().String(),
		Leader: string(addr), LeaderID: string(id), Term: n.raft.CurrentTerm(),
		CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.applied.current(), LastIndex: n.raft.LastIndex(),
		LedgerSize: head.Size, LedgerRoot: head.Root.String(), Bootstrapped: n.fsm.View().Bootstrapped,
		RaftAddr: n.cfg.RaftAdvertise, APIAddr: n.cfg.APIAddr, GossipAddr: n.gossipAddr(),
	}
}

func (n *Node) gossipAddr() string {
	if n.gossip == nil {
		return ""
	}
	return n.gossip.Addr()
}

// Ready reports whether the node can serve: it knows a leader, the cluster
// is bootstrapped, its own record is published, and its state has caught
// up with the commit index it knows of.
func (n *Node) Ready() error {
	if n.raft.State() == raft.Shutdown {
		return ErrShutdown
	}
	if _, id := n.raft.LeaderWithID(); id == "" {
		return ErrNoLeader
	}
	view := n.fsm.View()
	if !view.Bootstrapped {
		return cnverr.New(cnverr.Unavailable, "cluster not bootstrapped yet")
	}
	// A member whose own record (key, addresses) is not yet applied is still
	// joining: its NodeJoined event is about to move the ledger, and peers
	// cannot check what it signs.
	if !n.recordCurrent(view) {
		return cnverr.New(cnverr.Unavailable, "joining: this node's record is not in the replicated state yet")
	}
	if lag := n.raft.CommitIndex(); n.applied.current() < lag && !n.onlyMarkersUpTo(lag) {
		return cnverr.New(cnverr.Unavailable, "catching up: applied %d of %d", n.applied.current(), lag)
	}
	return nil
}
