package fsm

import (
	"fmt"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// applier applies the commands of one entry inside the batch's transaction:
// ledger events through tx, replicated state through st, both committed
// together.
type applier struct {
	f         *FSM
	tx        *ledger.Tx
	st        *state.Writer
	w         *work
	raftIndex uint64
	now       int64
}

func (a *applier) apply(c *Command) Result {
	switch c.Kind {
	case KindBootstrap:
		return a.bootstrap(c.Bootstrap)
	case KindNode:
		return a.node(c.Node)
	case KindNodeLeft:
		return a.nodeLeft(c.NodeLeft)
	case KindInvoke:
		return a.invoke(c.Invoke)
	case KindHotLease:
		return a.hotLease(c.HotLease)
	case KindHotReturn:
		return a.hotReturn(c.HotReturn)
	case KindHotBatch:
		return a.hotBatch(c.HotBatch)
	case KindMembership:
		return a.membership(c.Membership)
	}
	return errResult(cnverr.InvalidStructure, "unknown command kind %d", c.Kind)
}

// appendEvents appends events at the entry's Raft index and time. A failure
// poisons the transaction, and ApplyBatch then stops the node.
func (a *applier) appendEvents(evs ...event.Event) []ledger.Appended {
	out, err := a.tx.Append(ledger.AppendOptions{RaftIndex: a.raftIndex, Time: a.now}, evs...)
	if err != nil {
		panic(fmt.Sprintf("fsm: ledger append at raft index %d: %v", a.raftIndex, err))
	}
	return out
}

// bootstrap registers the admin keys of a new cluster. It applies once; a
// later bootstrap (a second leader racing the first) is a no-op.
func (a *applier) bootstrap(b *Bootstrap) Result {
	if a.w.bootstrapped {
		return Result{Time: a.now}
	}
	for _, pub := range b.AdminKeys {
		p := principal.New(pub, "admin-"+string(principal.IDOf(pub))[2:10], principal.Human, principal.DefaultTenant)
		p.Admin = true
		if err := p.Validate(); err != nil {
			return Result{Err: renderErr(err)}
		}
		must(a.st.PutPrincipal(p))
		a.w.putPrincipal(p)
		a.appendEvents(event.Event{Actor: p.AgentID, Tenant: p.Tenant,
			Data: event.PrincipalRegistered{Principal: p}})
	}
	must(a.st.SetBootstrapped())
	a.w.bootstrapped = true
	return Result{Time: a.now}
}

// node records (or updates) a member's record and ledgers NodeJoined when
// something changed.
func (a *applier) node(n *Node) Result {
	if err := principal.CheckID("node_id", n.ID); err != nil {
		return Result{Err: renderErr(err)}
	}
	if len(n.PublicKey) != 32 {
		return errResult(cnverr.InvalidInput, "node %s: public key has %d bytes", n.ID, len(n.PublicKey))
	}
	n.KeyID = principal.IDOf(n.PublicKey)
	if old, ok := a.w.nodes[n.ID]; ok && old.KeyID == n.KeyID && old.APIAddr == n.APIAddr &&
		old.RaftAddr == n.RaftAddr && old.Voter == n.Voter && old.GossipAddr == n.GossipAddr {
		return Result{Time: a.now}
	}
	must(a.st.PutNode(*n))
	a.w.putNode(*n)
	ap := a.appendEvents(event.Event{Actor: n.ID, Data: event.NodeJoined{
		NodeID: n.ID, KeyID: n.KeyID, PublicKey: n.PublicKey, Address: n.APIAddr, Voter: n.Voter}})
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash}
}

func (a *applier) nodeLeft(n *NodeLeft) Result {
	if _, ok := a.w.nodes[n.ID]; !ok {
		return Result{Time: a.now}
	}
	must(a.st.DeleteNode(n.ID))
	a.w.deleteNode(n.ID)
	ap := a.appendEvents(event.Event{Actor: n.ID, Data: event.NodeLeft{NodeID: n.ID, Reason: n.Reason}})
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash}
}
