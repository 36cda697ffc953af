package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID and Raft address, where its
// node-to-node channel is served ("" when unknown).
func (n *Node) Leader() (id, raftAddr string) {
	addr, lid := n.raft.LeaderWithID()
	return string(lid), string(addr)
}

// Term is the current Raft term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// Done is closed when the node shuts down.
func (n *Node) Done() <-chan struct{} { return n.shutdownCh }

// Member is one server of the Raft configuration with its node record.
type Member struct {
	NodeID   string          `json:"node_id"`
	RaftAddr string          `json:"raft_addr"`
	APIAddr  string          `json:"api_addr,omitempty"`
	Raft     string          `json:"raft"`
	Leader   bool            `json:"leader"`
	KeyID    principal.KeyID `json:"key_id,omitempty"`
	// Role, Gossip and GossipAddr come from gossip (when enabled): server
	// or edge; alive, suspect, dead or left.
	Role       string `json:"role,omitempty"`
	Gossip     string `json:"gossip,omitempty"`
	GossipAddr string `json:"gossip_addr,omitempty"`
	Applied    uint64 `json:"applied_index,omitempty"`
}

// Members lists the Raft configuration with the node records.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, raftErr(err)
	}
	_, leader := n.raft.LeaderWithID()
	nodes := n.fsm.View().Nodes
	var out []Member
	for _, s := range f.Configuration().Servers {
		m := Member{NodeID: string(s.ID), RaftAddr: string(s.Address), Raft: "voter", Leader: s.ID == leader}
		if s.Suffrage != raft.Voter {
			m.Raft = "nonvoter"
		}
		if rec, ok := nodes[m.NodeID]; ok {
			m.APIAddr, m.KeyID = rec.APIAddr, rec.KeyID
		}
		out = append(out, m)
	}
	return n.withGossip(out), nil
}

// withGossip adds gossip's view: each member's gossip state, and the
// members gossip knows that are not in the Raft configuration (edges,
// servers not yet added) with Raft "none".
func (n *Node) withGossip(ms []Member) []Member {
	if n.gossip == nil {
		return ms
	}
	seen := map[string]bool{}
	for i := range ms {
		seen[ms[i].NodeID] = true
		if gm, ok := n.gossip.Member(ms[i].NodeID); ok {
			ms[i].Role, ms[i].Gossip, ms[i].GossipAddr, ms[i].Applied = string(gm.Role), string(gm.State), gm.GossipAddr, gm.Applied
		} else {
			ms[i].Role, ms[i].Gossip = "server", "unknown"
		}
	}
	for _, gm := range n.gossip.Members() {
		if !seen[gm.NodeID] {
			ms = append(ms, Member{NodeID: gm.NodeID, RaftAddr: gm.RaftAddr, APIAddr: gm.APIAddr, Raft: "none",
				Role: string(gm.Role), Gossip: string(gm.State), GossipAddr: gm.GossipAddr, Applied: gm.Applied})
		}
	}
	return ms
}

// AddServer adds (or re-addresses) a server; leader only.
func (n *Node) AddServer(ctx context.Context, req JoinRequest) error {
	if err := principal.CheckID("node_id", req.NodeID); err != nil {
		return err
	}
	if req.RaftAddr == "" {
		return cnverr.New(cnverr.InvalidInput, "join: raft_addr is required")
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raftErr(err)
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(req.NodeID) && s.Address == raft.ServerAddress(req.RaftAddr) {
			n.log.Info("join: server already a member", "node_id", req.NodeID)
			return nil
		}
		if s.ID == raft.ServerID(req.NodeID) || s.Address == raft.ServerAddress(req.RaftAddr) {
			n.log.Info("join: replacing a member with the same id or address", "node_id", s.ID, "addr", s.Address)
			if err := n.raft.RemoveServer(s.ID, 0, 0).Error(); err != nil {
				return raftErr(err)
			}
		}
	}
	var fut raft.IndexFuture
	if req.Nonvoter {
		fut = n.raft.AddNonvoter(raft.ServerID(req.NodeID), raft.ServerAddress(req.RaftAddr), 0, 0)
	} else {
		fut = n.raft.AddVoter(raft.ServerID(req.NodeID), raft.ServerAddress(req.RaftAddr), 0, 0)
	}
	if err := fut.Error(); err != nil {
		return raftErr(err)
	}
	n.log.Info("server added", "node_id", req.NodeID, "raft", req.RaftAddr, "voter", !req.Nonvoter)
	return nil
}

// Join asks the members at addrs (API addresses) to add this node, trying
// them in turn until one succeeds or ctx ends.
func (n *Node) Join(ctx context.Context, addrs []string) error {
	// With gossip, autopilot promotes a new server once it has caught up.
	req := JoinRequest{NodeID: n.cfg.NodeID, RaftAddr: n.cfg.RaftAdvertise, APIAddr: n.cfg.APIAddr, Nonvoter: n.cfg.Gossip != nil}
	var last error
	for attempt := 0; ; attempt++ {
		for _, a := range addrs {
			if last = n.cfg.Remote.Join(ctx, a, req); last == nil {
				n.log.Info("joined the cluster", "via", a)
				return nil
			}
			if refused(last) {
				return fmt.Errorf("join via %s refused: %w", a, last)
			}
			n.log.Debug("join attempt failed", "via", a, "error", last)
		}
		select {
		case <-ctx.Done():
			return cnverr.New(cnverr.Unavailable, "could not join via %v: %v (last error: %v)", addrs, ctx.Err(), last)
		case <-n.shutdownCh:
			return ErrShutdown
		case <-time.After(backoff(attempt)):
		}
	}
}

// refused reports whether a member refused to add this node (a wrong
// cluster token, a key it does not accept): retrying cannot help.
func refused(err error) bool {
	k := cnverr.KindOf(err)
	return k == cnverr.Unauthenticated || k == cnverr.PermissionDenied
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 4)
	return d
}

// RemoveServer removes a server from the Raft configuration and records
// its departure; leader only.
func (n *Node) RemoveServer(ctx context.Context, req RemoveRequest) error {
	if req.NodeID == "" {
		return cnverr.New(cnverr.InvalidInput, "remove: node_id is required")
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if _, err := n.server(req.NodeID); err != nil {
		return err
	}
	if req.NodeID == n.cfg.NodeID {
		return n.removeSelf(ctx, req)
	}
	if err := n.raft.RemoveServer(raft.ServerID(req.NodeID), 0, 0).Error(); err != nil {
		return raftErr(err)
	}
	n.log.Info("server removed", "node_id", req.NodeID, "reason", req.Reason)
	cmd := fsm.Command{Kind: fsm.KindNodeLeft, NodeLeft: &fsm.NodeLeft{ID: req.NodeID, Reason: req.Reason}}
	_, _, err := n.props.submit(ctx, []fsm.Command{cmd})
	return err
}

// removeSelf removes the leader itself: it hands leadership over first
// and has the new leader remove it, so the removal is committed and
// recorded by a leader that stays.
func (n *Node) removeSelf(ctx context.Context, req RemoveRequest) error {
	if _, err := n.TransferLeadership(ctx, ""); err != nil {
		return fmt.Errorf("remove %s: hand leadership over first: %w", req.NodeID, err)
	}
	return n.cfg.Remote.Remove(ctx, req)
}

// Leave removes this node from the cluster, handing leadership over first
// when it leads. The caller shuts the node down afterwards.
func (n *Node) Leave(ctx context.Context) error {
	if n.IsLeader() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership transfer failed; removing self as leader", "error", err)
			return n.RemoveServer(ctx, RemoveRequest{NodeID: n.cfg.NodeID, Reason: "left"})
		}
	}
	return n.cfg.Remote.Remove(ctx, RemoveRequest{NodeID: n.cfg.NodeID, Reason: "left"})
}

// RegisterNode publishes a member's signed record; leader only. The record
// must verify under its own key and name a server of the configuration at
// the same Raft address.
func (n *Node) RegisterNode(ctx context.Context, sn SignedNode) error {
	if !sn.verify() {
		return ErrBadNodeRecord
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raftErr(err)
	}
	rec := sn.Record
	found := false
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == rec.ID && string(s.Address) == rec.RaftAddr {
			found, rec.Voter = true, s.Suffrage == raft.Voter
		}
	}
	if !found {
		return cnverr.New(cnverr.PermissionDenied, "node %s at %s is not in the raft configuration", rec.ID, rec.RaftAddr)
	}
	res, _, err := n.props.submit(ctx, []fsm.Command{{Kind: fsm.KindNode, Node: &rec}})
	if err == nil && len(res) == 1 && res[0].Err != nil {
		err = res[0].Err
	}
	return err
}
