package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/principal"
)

// GossipConfig turns on memberlist membership for a server node.
type GossipConfig struct {
	// BindAddr is the gossip host:port (UDP and TCP).
	BindAddr      string
	AdvertiseAddr string
	// SecretKey enables memberlist encryption (16, 24 or 32 bytes).
	SecretKey []byte
	// Timing is the failure detector's (zero: LAN defaults).
	Timing gossip.Timing
	// Autopilot tunes promotion and dead-server cleanup (zero: defaults).
	Autopilot gossip.Policy
	// Fetch fetches a member's graph snapshot (package peer backs it with
	// the member's API).
	Fetch gossip.FetchFunc
	// Proof is this server's admission proof, advertised in gossip.
	Proof []byte
	// Admit checks that a server heard of only through gossip may join:
	// its node certificate (a TLS handshake with it) or its proof. nil:
	// such servers are never added; they join explicitly, with proof.
	Admit func(ctx context.Context, m gossip.Member) error
}

// startGossip starts memberlist for this server.
func (n *Node) startGossip() error {
	gc := n.cfg.Gossip
	if gc == nil {
		return nil
	}
	if gc.Autopilot == (gossip.Policy{}) {
		gc.Autopilot = gossip.DefaultPolicy()
	}
	g, err := gossip.New(gossip.Config{
		NodeID: n.cfg.NodeID, Role: gossip.RoleServer, BindAddr: gc.BindAddr, AdvertiseAddr: gc.AdvertiseAddr,
		RaftAddr: n.cfg.RaftAdvertise, APIAddr: n.cfg.APIAddr, SecretKey: gc.SecretKey, Timing: gc.Timing, Proof: gc.Proof, KeyID: n.keyID,
		Fetch: gc.Fetch, Logger: n.cfg.Logger, Clock: n.cfg.Clock,
	})
	if err != nil {
		return cnverr.Wrap(cnverr.InvalidInput, err, "gossip")
	}
	n.gossip = g
	n.goLoop(n.autopilot)
	return nil
}

// Gossip is the node's memberlist instance (nil without gossip).
func (n *Node) Gossip() *gossip.Gossip { return n.gossip }

// JoinGossip joins the gossip pool through members' gossip addresses.
func (n *Node) JoinGossip(addrs []string) (int, error) {
	if n.gossip == nil {
		return 0, cnverr.New(cnverr.InvalidInput, "gossip is not enabled on this node")
	}
	return n.gossip.Join(addrs)
}

// autopilot publishes this node's applied index and graph snapshot to
// gossip and, on the leader, applies Reconcile's decisions once a second:
// add new servers as non-voters, promote them once caught up and stable,
// remove servers dead for long enough while a quorum remains, and refuse
// (log, count) the servers it must not add.
func (n *Node) autopilot() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var st gossip.State
	var published uint64
	var lastRound time.Time
	refused := map[string]string{} // node id → the refusal last logged
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-t.C:
		}
		n.gossip.SetApplied(n.applied.current())
		if v := n.fsm.View(); v.Graph != nil && (published == 0 || v.RegistryIndex != published) {
			if err := n.gossip.PublishGraph(v.Graph); err == nil {
				published = v.RegistryIndex
			}
		}
		now := n.cfg.Clock.Now()
		if !n.IsLeader() {
			st = gossip.State{} // a new leader starts its timers afresh
			clear(refused)
			continue
		}
		if now.Sub(lastRound) < time.Second {
			continue
		}
		lastRound = now
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n.reconcileOnce(ctx, &st, now, refused)
		cancel()
	}
}

// refusalNoProof counts servers heard only through gossip whose admission
// proof does not verify (cnv_autopilot_refusals_total).
const refusalNoProof = "no_proof"

func (n *Node) reconcileOnce(ctx context.Context, st *gossip.State, now time.Time, logged map[string]string) {
	if n.termBarrier() != nil { // the tombstones and records below include every earlier term's
		return
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	view := n.fsm.View()
	rc := gossip.RaftConfig{LeaderID: n.cfg.NodeID, CommitIndex: n.raft.CommitIndex(),
		RemovedIDs: map[string]uint64{}, RemovedKeys: map[string]uint64{}}
	for _, s := range f.Configuration().Servers {
		suf := gossip.Voter
		if s.Suffrage != raft.Voter {
			suf = gossip.Nonvoter
		}
		rc.Servers = append(rc.Servers, gossip.RaftServer{ID: string(s.ID), Addr: string(s.Address), Suffrage: suf,
			KeyID: string(view.Nodes[string(s.ID)].KeyID)})
	}
	for id, t := range view.Removed {
		rc.RemovedIDs[id] = t.Index
	}
	for k, t := range view.RemovedKeys {
		rc.RemovedKeys[string(k)] = t.Index
	}
	members := n.gossip.Members()
	seen := map[string]bool{}
	refuse := func(id, kind, reason string) {
		seen[id] = true
		n.metrics.autopilotRefusals.WithLabelValues(kind).Inc()
		if logged[id] != reason { // once per refusal, not every round
			logged[id] = reason
			n.log.Warn("autopilot: refusing a server", "node_id", id, "refusal", kind, "reason", reason)
		}
	}
	defer func() {
		for id := range logged {
			if !seen[id] {
				delete(logged, id)
			}
		}
	}()
	for _, a := range gossip.Reconcile(rc, members, st, now, n.cfg.Gossip.Autopilot) {
		if a.Kind == gossip.ActionRefuse {
			refuse(a.ID, a.Refusal, a.Reason)
			continue
		}
		if a.Kind == gossip.ActionAddNonvoter {
			if err := n.admit(ctx, a, members); err != nil {
				refuse(a.ID, refusalNoProof, "not adding a server heard only through gossip: "+err.Error())
				continue
			}
		}
		if err := n.applyAction(ctx, a); err != nil {
			n.log.Warn("autopilot action failed", "action", a.Kind, "node_id", a.ID, "error", err)
			return
		}
		n.log.Info("autopilot", "action", a.Kind, "node_id", a.ID, "reason", a.Reason)
	}
}

// ErrNoAdmission is a server heard only through gossip with no way to
// check its proof.
var ErrNoAdmission = cnverr.New(cnverr.PermissionDenied, "servers heard only through gossip are not admitted without a cluster token or TLS; join it explicitly")

// admit checks a gossip-only server's proof before autopilot adds it.
func (n *Node) admit(ctx context.Context, a gossip.Action, members []gossip.Member) error {
	if n.cfg.Gossip.Admit == nil {
		return ErrNoAdmission
	}
	for _, m := range members {
		if m.NodeID == a.ID && m.RaftAddr == a.Addr {
			return n.cfg.Gossip.Admit(ctx, m)
		}
	}
	return cnverr.New(cnverr.NotFound, "server %s is no longer in gossip", a.ID)
}

// applyAction carries out one of autopilot's changes and ledgers it (By
// "autopilot", the reason as the cause). Additions and promotions check
// again, under memberMu, that the server was not removed meanwhile and
// that the configuration is still the one Reconcile saw for it (an
// addition never re-addresses a member another change just added).
func (n *Node) applyAction(ctx context.Context, a gossip.Action) error {
	cause := "autopilot: " + a.Reason
	if a.Kind == gossip.ActionRemove {
		return n.RemoveServer(ctx, RemoveRequest{NodeID: a.ID, Reason: a.Reason, Origin: Origin{By: "autopilot", Cause: cause}})
	}
	n.memberMu.Lock()
	defer n.memberMu.Unlock()
	if t, removed := n.fsm.View().Tombstoned(a.ID, principal.KeyID(a.KeyID)); removed {
		return removedErr(t, a.ID, principal.KeyID(a.KeyID))
	}
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	for _, s := range servers {
		same := string(s.ID) == a.ID
		switch {
		case a.Kind == gossip.ActionAddNonvoter && (same || string(s.Address) == a.Addr):
			return cnverr.New(cnverr.Conflict, "autopilot: %s or its address %s joined the configuration meanwhile", a.ID, a.Addr)
		case a.Kind == gossip.ActionPromote && same && (string(s.Address) != a.Addr || s.Suffrage != raft.Nonvoter):
			return cnverr.New(cnverr.Conflict, "autopilot: %s changed meanwhile (%s at %s)", a.ID, s.Suffrage, s.Address)
		}
	}
	id, addr := raft.ServerID(a.ID), raft.ServerAddress(a.Addr)
	m := fsm.Membership{NodeID: a.ID, RaftAddr: a.Addr, By: "autopilot", Cause: cause}
	switch a.Kind {
	case gossip.ActionAddNonvoter:
		if err := raftErr(n.raft.AddNonvoter(id, addr, 0, 10*time.Second).Error()); err != nil {
			return err
		}
		m.Change, m.KeyID = event.MemberJoined, principal.KeyID(a.KeyID)
		m.Cause = fmt.Sprintf("autopilot: server heard through gossip at %s, its admission proof verified", a.Addr)
	case gossip.ActionPromote:
		if err := raftErr(n.raft.AddVoter(id, addr, 0, 10*time.Second).Error()); err != nil {
			return err
		}
		m.Change, m.Voter = event.MemberPromoted, true
	default:
		return nil
	}
	return n.ledgerChange(ctx, m)
}

// LocalGraph returns the graph snapshot reads are served from: the
// replicated state's on a server.
func (n *Node) LocalGraph() *graph.Snapshot { return n.fsm.View().Graph }
