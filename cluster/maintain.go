package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
)

// maintain runs the node's housekeeping: the first leader installs the
// admin keys, every node makes sure its record (ID, addresses, public key)
// is in the replicated state, and the leader keeps voter flags current and
// completes committed removals.
func (n *Node) maintain() {
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.maintainOnce(ctx); err != nil {
			n.log.Debug("maintenance step failed; will retry", "error", err)
		}
		cancel()
	}
}

func (n *Node) maintainOnce(ctx context.Context) error {
	view := n.fsm.View()
	if n.IsLeader() {
		if !view.Bootstrapped && len(n.cfg.AdminKeys) > 0 {
			cmd := fsm.Command{Kind: fsm.KindBootstrap, Bootstrap: &fsm.Bootstrap{AdminKeys: n.cfg.AdminKeys}}
			if _, _, err := n.props.submit(ctx, []fsm.Command{cmd}); err != nil {
				return err
			}
			n.log.Info("cluster bootstrapped", "admin_keys", len(n.cfg.AdminKeys))
		}
		if err := n.syncVoterFlags(ctx, view); err != nil {
			return err
		}
		if err := n.completeRemovals(ctx); err != nil {
			return err
		}
	}
	n.rejoinGossip(view)
	n.warnOwnMembership(view)
	if _, removed := view.Tombstoned(n.cfg.NodeID, n.keyID); removed {
		return nil // a removed node's record is refused; an explicit join readmits it
	}
	if !n.recordCurrent(view) {
		return n.registerSelf(ctx)
	}
	return nil
}

// warnOwnMembership tells the operator, once, what this node cannot fix
// on its own: it was removed (only an explicit join readmits it), or it
// listens at another Raft address than the configuration has for it
// (only an explicit move makes it reachable).
func (n *Node) warnOwnMembership(view *fsm.View) {
	if t, removed := view.Tombstoned(n.cfg.NodeID, n.keyID); removed {
		if n.warnedRemoved.Swap(t.Index) != t.Index {
			n.log.Warn("this node was removed from the cluster and is not added back on its own; an explicit join readmits it: "+
				"cnv-node cluster join --addr "+n.cfg.APIAddr+" MEMBER", "removal_index", t.Index, "by", t.By, "cause", t.Cause)
		}
	}
	servers, err := n.configuration()
	if err != nil {
		return
	}
	for _, s := range servers {
		if string(s.ID) == n.cfg.NodeID && string(s.Address) != n.cfg.RaftAdvertise && n.warnedMoved.CompareAndSwap(false, true) {
			n.log.Warn("the raft configuration has this node at another address: peers cannot reach it until it is moved: "+
				"cnv-node cluster move-member "+n.cfg.NodeID+" --raft-addr "+n.cfg.RaftAdvertise+" (or restart it at "+string(s.Address)+")",
				"configured", s.Address, "listening", n.cfg.RaftAdvertise)
		}
	}
}

// rejoinGossip joins the gossip pool through the other nodes' recorded
// gossip addresses while this node sees no other live member (a restarted
// node, or one cut off for longer than memberlist remembers it).
func (n *Node) rejoinGossip(view *fsm.View) {
	if n.gossip == nil {
		return
	}
	for _, m := range n.gossip.Members() {
		if m.NodeID != n.cfg.NodeID && m.State == gossip.StateAlive {
			return
		}
	}
	var addrs []string
	for _, rec := range view.Nodes {
		if rec.ID != n.cfg.NodeID && rec.GossipAddr != "" {
			addrs = append(addrs, rec.GossipAddr)
		}
	}
	if len(addrs) > 0 {
		if _, err := n.gossip.Join(addrs); err != nil {
			n.log.Debug("gossip rejoin failed", "error", err)
		}
	}
}

func (n *Node) ownRecord() fsm.Node {
	return fsm.Node{ID: n.cfg.NodeID, RaftAddr: n.cfg.RaftAdvertise, APIAddr: n.cfg.APIAddr, PublicKey: n.pub, KeyID: n.keyID,
		GossipAddr: n.gossipAddr()}
}

func (n *Node) recordCurrent(view *fsm.View) bool {
	rec, ok := view.Nodes[n.cfg.NodeID]
	return ok && rec.KeyID == n.keyID && rec.APIAddr == n.cfg.APIAddr && rec.RaftAddr == n.cfg.RaftAdvertise &&
		rec.GossipAddr == n.gossipAddr()
}

func (n *Node) registerSelf(ctx context.Context) error {
	sn, err := signNode(n.ownRecord(), n.key)
	if err != nil {
		return err
	}
	if n.IsLeader() {
		return n.RegisterNode(ctx, sn)
	}
	if _, addr := n.Leader(); addr == "" {
		return ErrNoLeader
	}
	return n.cfg.Remote.RegisterNode(ctx, sn)
}

// syncVoterFlags re-proposes records whose voter flag no longer matches
// the Raft configuration (after a promotion).
func (n *Node) syncVoterFlags(ctx context.Context, view *fsm.View) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raftErr(err)
	}
	var cmds []fsm.Command
	for _, s := range f.Configuration().Servers {
		rec, ok := view.Nodes[string(s.ID)]
		if !ok || rec.Voter == (s.Suffrage == raft.Voter) || rec.RaftAddr != string(s.Address) {
			continue
		}
		rec.Voter = s.Suffrage == raft.Voter
		cmds = append(cmds, fsm.Command{Kind: fsm.KindNode, Node: &rec})
	}
	if len(cmds) == 0 {
		return nil
	}
	_, _, err := n.props.submit(ctx, cmds)
	return err
}
