package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster/gossip"
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
	return n.withGossip(out, n.fsm.View()), nil
}

// withGossip adds gossip's view: each member's gossip state, and the
// members gossip knows that are not in the Raft configuration (edges,
// servers not yet added) with Raft "none", or "removed" for a server whose
// id or key is tombstoned.
func (n *Node) withGossip(ms []Member, view *fsm.View) []Member {
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
			m := Member{NodeID: gm.NodeID, RaftAddr: gm.RaftAddr, APIAddr: gm.APIAddr, Raft: "none", KeyID: principal.KeyID(gm.KeyID),
				Role: string(gm.Role), Gossip: string(gm.State), GossipAddr: gm.GossipAddr, Applied: gm.Applied}
			if _, removed := view.Tombstoned(gm.NodeID, m.KeyID); removed && gm.Role == gossip.RoleServer {
				m.Raft = "removed"
			}
			ms = append(ms, m)
		}
	}
	return ms
}

// Join asks the members at addrs (API addresses) to add this node, trying
// them in turn until one succeeds or ctx ends. The request is signed with
// the node key. When a member answers that this node (its id or its key)
// was removed, Join signs the request again naming that removal and sends
// it once more: Join is the explicit join (`agent --join` on an empty data
// dir, `cnv-node cluster join`) that readmits a removed server.
func (n *Node) Join(ctx context.Context, addrs []string) error {
	// With gossip, autopilot promotes a new server once it has caught up.
	req, err := n.joinRequest(0)
	if err != nil {
		return err
	}
	var last error
	for attempt := 0; ; attempt++ {
		for _, a := range addrs {
			last = n.cfg.Remote.Join(ctx, a, req)
			if idx, removed := removalIndex(last); removed && idx != req.Readmit {
				n.log.Info("this node was removed from the cluster; readmitting it with this explicit join", "removal_index", idx, "via", a)
				if req, err = n.joinRequest(idx); err != nil {
					return err
				}
				last = n.cfg.Remote.Join(ctx, a, req)
			}
			if last == nil {
				n.log.Info("joined the cluster", "via", a, "readmitted", req.Readmit)
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

// joinRequest is this node's signed join, readmitting removal readmit
// (0: none).
func (n *Node) joinRequest(readmit uint64) (JoinRequest, error) {
	return signJoin(JoinRequest{NodeID: n.cfg.NodeID, RaftAddr: n.cfg.RaftAdvertise, APIAddr: n.cfg.APIAddr,
		Nonvoter: n.cfg.Gossip != nil, Readmit: readmit}, n.key)
}

// refused reports whether a member refused to add this node (a wrong
// cluster token, a key it does not accept, an id another member has):
// retrying cannot help.
func refused(err error) bool {
	k := cnverr.KindOf(err)
	return k == cnverr.Unauthenticated || k == cnverr.PermissionDenied || k == cnverr.Conflict
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 4)
	return d
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
// when it leads; o says who asked. The removal tombstones the node like
// any other: only an explicit join brings it back. The caller shuts the
// node down afterwards.
func (n *Node) Leave(ctx context.Context, o Origin) error {
	req := RemoveRequest{NodeID: n.cfg.NodeID, Reason: "left", Origin: o.or("member", "cluster leave of "+n.cfg.NodeID)}
	if n.IsLeader() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership transfer failed; removing self as leader", "error", err)
			return n.removeServer(ctx, req, false)
		}
	}
	return n.cfg.Remote.Remove(ctx, req)
}

// RegisterNode publishes a member's signed record; leader only. The record
// must verify under its own key and name a server of the configuration at
// the same Raft address. It may not change the key of a recorded member
// (a node with a new key is removed and joins again), claim another
// member's key, or belong to a removed id or key.
func (n *Node) RegisterNode(ctx context.Context, sn SignedNode) error {
	if !sn.verify() {
		return ErrBadNodeRecord
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if err := n.termBarrier(); err != nil {
		return err
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
	if err := checkRecord(n.fsm.View(), rec); err != nil {
		return err
	}
	res, _, err := n.props.submit(ctx, []fsm.Command{{Kind: fsm.KindNode, Node: &rec}})
	if err == nil && len(res) == 1 && res[0].Err != nil {
		err = res[0].Err
	}
	return err
}

// checkRecord refuses a record that would change a member's key, take
// another member's, or bring back a removed id or key.
func checkRecord(view *fsm.View, rec fsm.Node) error {
	key := principal.IDOf(rec.PublicKey)
	if old, ok := view.Nodes[rec.ID]; ok && old.KeyID != key {
		return cnverr.New(cnverr.Conflict, "node %s is recorded with key %s; this record is signed by key %s: a node with a new key "+
			"is removed (cnv-node cluster remove %s) and joins again", rec.ID, old.KeyID, key, rec.ID)
	}
	for _, other := range view.Nodes {
		if other.ID != rec.ID && other.KeyID == key {
			return cnverr.New(cnverr.Conflict, "key %s is member %s's; node %s may not publish it", key, other.ID, rec.ID)
		}
	}
	if t, ok := view.Tombstoned(rec.ID, key); ok {
		return removedErr(t, rec.ID, key)
	}
	return nil
}
