package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Membership changes on the leader. Each runs under memberMu (one change
// at a time, autopilot's included), after a barrier of the current term
// (so the tombstones and records it checks include everything an earlier
// leader committed), and is ledgered as a fsm.Membership command with its
// Origin. A removal is committed before the server leaves the Raft
// configuration, so nothing can add it back in between; a join, promotion
// or move is ledgered once the configuration change is done.

// ErrBadJoin is a join request not signed by the key it names.
var ErrBadJoin = cnverr.New(cnverr.Unauthenticated, "join request is not signed by the node key it names")

// removedIndexDetail names, in a refusal's details, the removal a join
// must name to readmit the server (JoinRequest.Readmit).
const removedIndexDetail = "removed_index"

// removedErr refuses a removed id or key; the details name the removal.
func removedErr(t fsm.Tombstone, id string, key principal.KeyID) error {
	what := "node " + id
	if t.ID != id {
		what = fmt.Sprintf("key %s (node %s)", key, t.ID)
	}
	return cnverr.New(cnverr.PermissionDenied, "%s was removed at raft index %d (%s; by %s) and is not readmitted by this request: "+
		"an explicit join, signed after the removal, readmits it (cnv-node cluster join --addr NODE MEMBER)", what, t.Index, t.Cause, t.By).
		With(removedIndexDetail, t.Index)
}

// removalIndex reads the removal a refusal names (removedErr), through
// the API's JSON too.
func removalIndex(err error) (uint64, bool) {
	var e *cnverr.Error
	if err == nil || !errors.As(err, &e) || e.Kind != cnverr.PermissionDenied {
		return 0, false
	}
	switch v := e.Details[removedIndexDetail].(type) {
	case uint64:
		return v, v > 0
	case float64:
		return uint64(v), v > 0
	case json.Number:
		i, err := v.Int64()
		return uint64(i), err == nil && i > 0
	}
	return 0, false
}

// settle readies the leader for a membership decision: leader only, and
// its state holds every entry committed before its term.
func (n *Node) settle() error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	return n.termBarrier()
}

// configuration is the current Raft configuration.
func (n *Node) configuration() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, raftErr(err)
	}
	return f.Configuration().Servers, nil
}

// ledgerChange commits a membership change's record.
func (n *Node) ledgerChange(ctx context.Context, m fsm.Membership) error {
	res, _, err := n.props.submit(ctx, []fsm.Command{{Kind: fsm.KindMembership, Membership: &m}})
	if err == nil && len(res) == 1 && res[0].Err != nil {
		err = res[0].Err
	}
	return err
}

// AddServer adds the server req names; leader only. The request must be
// signed by the key it names. It is refused (Conflict, naming both) when
// a member has its id with another Raft address or key, its Raft address,
// or its key; and (PermissionDenied, naming the removal) when its id or
// key was removed, unless it readmits that removal (req.Readmit). Joining
// again as the same member is a no-op.
func (n *Node) AddServer(ctx context.Context, req JoinRequest) error {
	if err := principal.CheckID("node_id", req.NodeID); err != nil {
		return err
	}
	if req.RaftAddr == "" {
		return cnverr.New(cnverr.InvalidInput, "join: raft_addr is required")
	}
	if !req.verify() {
		return fmt.Errorf("%w: join of %s", ErrBadJoin, req.NodeID)
	}
	if err := n.settle(); err != nil {
		return err
	}
	n.memberMu.Lock()
	defer n.memberMu.Unlock()
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	view := n.fsm.View()
	key := principal.IDOf(req.PublicKey)
	member, err := checkJoin(servers, view, req, key)
	if err != nil {
		n.log.Warn("join refused", "node_id", req.NodeID, "raft", req.RaftAddr, "key_id", key, "by", req.Origin.By, "error", err)
		return err
	}
	t, removed := view.Tombstoned(req.NodeID, key)
	if removed && req.Readmit != t.Index {
		return removedErr(t, req.NodeID, key)
	}
	if member && !removed {
		n.log.Info("join: server already a member", "node_id", req.NodeID)
		return nil
	}
	if !member {
		id, addr := raft.ServerID(req.NodeID), raft.ServerAddress(req.RaftAddr)
		var fut raft.IndexFuture // a future's change starts when it is made: one of them
		if req.Nonvoter {
			fut = n.raft.AddNonvoter(id, addr, 0, 0)
		} else {
			fut = n.raft.AddVoter(id, addr, 0, 0)
		}
		if err := fut.Error(); err != nil {
			return raftErr(err)
		}
	}
	o := req.Origin.or("member", "join request of "+req.NodeID)
	n.log.Info("server added", "node_id", req.NodeID, "raft", req.RaftAddr, "key_id", key, "voter", !req.Nonvoter,
		"readmitted", req.Readmit, "by", o.By, "cause", o.Cause)
	return n.ledgerChange(ctx, fsm.Membership{Change: event.MemberJoined, NodeID: req.NodeID, KeyID: key, RaftAddr: req.RaftAddr,
		APIAddr: req.APIAddr, Voter: !req.Nonvoter, By: o.By, Cause: o.Cause})
}

// checkJoin refuses a join that collides with a member and reports
// whether the joiner is already that member (same id, address and key).
func checkJoin(servers []raft.Server, view *fsm.View, req JoinRequest, key principal.KeyID) (member bool, err error) {
	for _, s := range servers {
		rec, hasRec := view.Nodes[string(s.ID)]
		recKey := "unknown: no record yet"
		if hasRec {
			recKey = string(rec.KeyID)
		}
		switch {
		case string(s.ID) == req.NodeID && (string(s.Address) != req.RaftAddr || hasRec && rec.KeyID != key):
			what := fmt.Sprintf("a node with another key is another node: remove the member first (cnv-node cluster remove %s), then join", req.NodeID)
			if hasRec && rec.KeyID == key {
				what = fmt.Sprintf("the same node at a new address is moved, not joined: cnv-node cluster move-member %s --raft-addr %s", req.NodeID, req.RaftAddr)
			} else if !hasRec && string(s.Address) != req.RaftAddr {
				what += fmt.Sprintf(" (or, if it is the member at a new address, cnv-node cluster move-member %s --raft-addr %s)", req.NodeID, req.RaftAddr)
			}
			return false, cnverr.New(cnverr.Conflict, "node id %s is already a member at %s (key %s); this join is for %s (key %s): %s",
				req.NodeID, s.Address, recKey, req.RaftAddr, key, what).
				With("member_raft_addr", string(s.Address)).With("member_key_id", recKey).
				With("join_raft_addr", req.RaftAddr).With("join_key_id", string(key))
		case string(s.ID) == req.NodeID:
			member = true
		case string(s.Address) == req.RaftAddr:
			return false, cnverr.New(cnverr.Conflict, "raft address %s is member %s's (key %s); the join of %s (key %s) is refused",
				s.Address, s.ID, recKey, req.NodeID, key).With("member", string(s.ID))
		case hasRec && rec.KeyID == key:
			return false, cnverr.New(cnverr.Conflict, "key %s is member %s's (at %s); the join of %s at %s is refused",
				key, s.ID, s.Address, req.NodeID, req.RaftAddr).With("member", string(s.ID))
		}
	}
	return member, nil
}

// RemoveServer removes a server from the Raft configuration; leader only.
// The removal (a tombstone of the node id and its key, ledgered with
// req.Origin) is committed first, then the configuration changes. Removing
// the leader hands leadership over first; removing a server that is not a
// member is ErrUnknownServer.
func (n *Node) RemoveServer(ctx context.Context, req RemoveRequest) error {
	if req.NodeID == "" {
		return cnverr.New(cnverr.InvalidInput, "remove: node_id is required")
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if req.NodeID == n.cfg.NodeID {
		if _, err := n.server(req.NodeID); err != nil {
			return err
		}
		return n.removeSelf(ctx, req)
	}
	return n.removeServer(ctx, req, false)
}

// removeServer removes a server other than this leader: the tombstone
// first (unless one is committed: then it completes that removal), then
// the configuration change. completing only completes committed removals
// (a server readmitted meanwhile stays).
func (n *Node) removeServer(ctx context.Context, req RemoveRequest, completing bool) error {
	if err := n.settle(); err != nil {
		return err
	}
	n.memberMu.Lock()
	defer n.memberMu.Unlock()
	s, err := n.server(req.NodeID)
	if err != nil {
		return err
	}
	o := req.Origin.or("member", "removal of "+req.NodeID+orReason(req.Reason))
	t, done := n.fsm.View().Removed[req.NodeID]
	switch {
	case done:
		n.log.Info("completing a committed removal", "node_id", req.NodeID, "removal_index", t.Index)
	case completing:
		return nil
	default:
		m := fsm.Membership{Change: event.MemberRemoved, NodeID: req.NodeID, RaftAddr: string(s.Address),
			Voter: s.Suffrage == raft.Voter, By: o.By, Cause: o.Cause}
		if err := n.ledgerChange(ctx, m); err != nil {
			return err
		}
	}
	if err := n.raft.RemoveServer(s.ID, 0, 0).Error(); err != nil {
		return fmt.Errorf("remove %s: the removal is committed, the configuration change failed (the leader completes it): %w",
			req.NodeID, raftErr(err))
	}
	n.log.Info("server removed", "node_id", req.NodeID, "by", o.By, "cause", o.Cause)
	return nil
}

func orReason(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// MoveServer gives member req.NodeID a new Raft address (and API address
// when req.APIAddr is set), keeping its suffrage; leader only. This is how
// a server that now listens elsewhere becomes reachable again: nothing
// moves a member on its own. Moving the leader hands leadership over
// first and answers ErrNotLeader (the API then sends the move to the new
// leader). A move to a member's Raft address is a Conflict; a move to
// where the member already is changes nothing.
func (n *Node) MoveServer(ctx context.Context, req MoveRequest) error {
	if err := principal.CheckID("node_id", req.NodeID); err != nil {
		return err
	}
	if err := checkMoveAddr(req.RaftAddr, req.APIAddr); err != nil {
		return err
	}
	if err := n.settle(); err != nil {
		return err
	}
	if req.NodeID == n.cfg.NodeID {
		if _, err := n.TransferLeadership(ctx, ""); err != nil {
			return fmt.Errorf("move %s: hand leadership over first: %w", req.NodeID, err)
		}
		return ErrNotLeader
	}
	n.memberMu.Lock()
	defer n.memberMu.Unlock()
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	var cur *raft.Server
	for i, s := range servers {
		switch {
		case string(s.ID) == req.NodeID:
			cur = &servers[i]
		case string(s.Address) == req.RaftAddr:
			return cnverr.New(cnverr.Conflict, "raft address %s is member %s's; %s cannot move there", req.RaftAddr, s.ID, req.NodeID)
		}
	}
	if cur == nil {
		return fmt.Errorf("%w: %s", ErrUnknownServer, req.NodeID)
	}
	view := n.fsm.View()
	if t, ok := view.Removed[req.NodeID]; ok {
		return removedErr(t, req.NodeID, "")
	}
	rec := view.Nodes[req.NodeID]
	if string(cur.Address) == req.RaftAddr && (req.APIAddr == "" || req.APIAddr == rec.APIAddr) {
		return nil
	}
	if string(cur.Address) != req.RaftAddr {
		// The server leaves the configuration and comes back at its new
		// address with the same ID and suffrage, as Consul moves a server.
		// Re-adding it in place would change the address under a running
		// replication goroutine, which raft reads without its lock.
		if err := n.raft.RemoveServer(cur.ID, 0, 0).Error(); err != nil {
			return raftErr(err)
		}
		var fut raft.IndexFuture
		if cur.Suffrage == raft.Voter {
			fut = n.raft.AddVoter(cur.ID, raft.ServerAddress(req.RaftAddr), 0, 0)
		} else {
			fut = n.raft.AddNonvoter(cur.ID, raft.ServerAddress(req.RaftAddr), 0, 0)
		}
		if err := fut.Error(); err != nil {
			return fmt.Errorf("move %s: it left the configuration at %s but was not added at %s (move it again): %w",
				req.NodeID, cur.Address, req.RaftAddr, raftErr(err))
		}
	}
	o := req.Origin.or("member", "move of "+req.NodeID)
	n.log.Info("server moved", "node_id", req.NodeID, "from", cur.Address, "raft", req.RaftAddr, "api", req.APIAddr, "by", o.By)
	return n.ledgerChange(ctx, fsm.Membership{Change: event.MemberMoved, NodeID: req.NodeID, RaftAddr: req.RaftAddr,
		APIAddr: req.APIAddr, FromRaftAddr: string(cur.Address), By: o.By, Cause: o.Cause})
}

// checkMoveAddr checks a move's addresses as the ledger will (printable,
// bounded).
func checkMoveAddr(raftAddr, apiAddr string) error {
	if raftAddr == "" {
		return cnverr.New(cnverr.InvalidInput, "move: raft_addr is required")
	}
	probe := event.Event{Actor: "x", Data: event.MembershipChanged{NodeID: "x", Change: event.MemberMoved, RaftAddr: raftAddr,
		APIAddr: apiAddr, FromRaftAddr: "x", By: "x", Cause: "x"}}
	if err := probe.Validate(); err != nil {
		return cnverr.Wrap(cnverr.InvalidInput, err, "move: address")
	}
	return nil
}

// completeRemovals finishes removals that were committed but whose
// configuration change did not happen (the leader that committed them
// failed in between): a tombstoned server still in the configuration
// leaves it. A tombstoned leader hands leadership over.
func (n *Node) completeRemovals(ctx context.Context) error {
	if err := n.settle(); err != nil {
		return err
	}
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	removed := n.fsm.View().Removed
	for _, s := range servers {
		t, ok := removed[string(s.ID)]
		if !ok {
			continue
		}
		if string(s.ID) == n.cfg.NodeID {
			n.log.Warn("this leader's removal is committed; handing leadership over so that the next leader completes it", "removal_index", t.Index)
			return raftErr(n.raft.LeadershipTransfer().Error())
		}
		if err := n.removeServer(ctx, RemoveRequest{NodeID: string(s.ID), Origin: Origin{By: t.By, Cause: t.Cause}}, true); err != nil {
			return err
		}
	}
	return nil
}
