package cluster_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

func nodeKey(t *testing.T, tn *testcluster.Node) ed25519.PrivateKey {
	t.Helper()
	k, err := principal.LoadPrivate(filepath.Join(tn.Dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// inConfig reports whether id is in the leader's Raft configuration, and
// at which address.
func inConfig(t *testing.T, c *testcluster.Cluster, id string) (string, bool) {
	t.Helper()
	f := c.WaitLeader().Node().Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			return string(s.Address), true
		}
	}
	return "", false
}

// membershipEvents lists the MembershipChanged events of id, oldest first.
func membershipEvents(t *testing.T, tn *testcluster.Node, id string) []event.MembershipChanged {
	t.Helper()
	page, err := tn.Node().Store().Query(ledger.Query{Type: event.TypeMembershipChanged, Actor: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []event.MembershipChanged
	for _, e := range page.Events {
		out = append(out, e.Data.(event.MembershipChanged))
	}
	return out
}

// unchanged captures what a refused request must leave as it was.
type unchanged struct {
	size    uint64
	servers int
	removed int
}

func snapshotOf(t *testing.T, c *testcluster.Cluster) unchanged {
	l := c.WaitLeader().Node()
	f := l.Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	return unchanged{size: l.Store().Head().Size, servers: len(f.Configuration().Servers), removed: len(l.FSM().View().Removed)}
}

func wantKind(t *testing.T, what string, err error, k cnverr.Kind, mention ...string) {
	t.Helper()
	if err == nil || cnverr.KindOf(err) != k {
		t.Fatalf("%s: %v (kind %s), want %s", what, err, cnverr.KindOf(err), k)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("%s: %q does not name %q", what, err, m)
		}
	}
}

// A removal is a committed tombstone of the node's id and key, ledgered
// with who asked. A join made before it (replayed), a node proposal
// carrying a removal or a readmission, and a proposal with a bad
// signature are refused and change nothing. The removed node's own
// explicit join readmits it, and the ledger says which removal it undid.
func TestRemovalSticksUntilAnExplicitJoin(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	l := c.WaitLeader()
	victim := c.Followers()[0]
	key := nodeKey(t, victim)
	keyID := principal.IDOf(key.Public().(ed25519.PublicKey))
	// The join the victim sent when it joined, as an eavesdropper kept it.
	replay, err := cluster.SignJoin(cluster.JoinRequest{NodeID: victim.ID, RaftAddr: victim.RaftAddr(), APIAddr: victim.APIAddr()}, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Node().RemoveServer(ctx, cluster.RemoveRequest{NodeID: victim.ID,
		Origin: cluster.Origin{By: "client:ops", Cause: "cluster remove from 127.0.0.1:4000 by client certificate ops"}}); err != nil {
		t.Fatal(err)
	}
	if _, in := inConfig(t, c, victim.ID); in {
		t.Fatal("removed server still in the configuration")
	}
	tomb, ok := l.Node().FSM().View().Removed[victim.ID]
	if !ok || tomb.KeyID != keyID || tomb.By != "client:ops" {
		t.Fatalf("tombstone %+v %v, want one of key %s by client:ops", tomb, ok, keyID)
	}
	if evs := membershipEvents(t, l, victim.ID); len(evs) == 0 || evs[len(evs)-1].Change != event.MemberRemoved ||
		evs[len(evs)-1].By != "client:ops" || !strings.Contains(evs[len(evs)-1].Cause, "client certificate ops") {
		t.Fatalf("ledger: %+v", evs)
	}
	before := snapshotOf(t, c)

	err = l.Node().AddServer(ctx, replay)
	wantKind(t, "a replayed join", err, cnverr.PermissionDenied, "removed at raft index", fmt.Sprint(tomb.Index))
	altered := replay
	altered.Readmit = tomb.Index // naming the removal needs a new signature
	wantKind(t, "an altered join", l.Node().AddServer(ctx, altered), cnverr.Unauthenticated, "not signed")

	// A member proposing a removal or a readmission on its own: refused
	// whatever it signs, and so is a proposal it did not sign.
	member := c.Followers()[0]
	if member == victim {
		member = c.Followers()[1]
	}
	for _, m := range []fsm.Membership{
		{Change: event.MemberRemoved, NodeID: l.ID, By: "node:" + member.ID, Cause: "forged"},
		{Change: event.MemberJoined, NodeID: victim.ID, By: "node:" + member.ID, Cause: "forged"},
	} {
		b, _ := codec.Marshal([]fsm.Command{{Kind: fsm.KindMembership, Membership: &m}})
		sp := cluster.SignedProposal{NodeID: member.ID, Commands: b, Signature: ed25519.Sign(nodeKey(t, member), append([]byte("cnv-node-proposal-v1\n"), b...))}
		_, err := l.Node().HandleProposal(ctx, sp)
		if !errors.Is(err, cluster.ErrNotProposable) {
			t.Fatalf("a member's %s proposal: %v, want ErrNotProposable", m.Change, err)
		}
		sp.Signature = ed25519.Sign(key, append([]byte("cnv-node-proposal-v1\n"), b...)) // not the member's key
		_, err = l.Node().HandleProposal(ctx, sp)
		wantKind(t, "a proposal with a bad signature", err, cnverr.Unauthenticated)
	}
	if got := snapshotOf(t, c); got != before {
		t.Fatalf("refused requests changed something: %+v, was %+v", got, before)
	}

	// The explicit join readmits it.
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := victim.Node().Join(jctx, []string{l.APIAddr()}); err != nil {
		t.Fatalf("explicit join: %v", err)
	}
	if _, in := inConfig(t, c, victim.ID); !in {
		t.Fatal("readmitted server not in the configuration")
	}
	c.WaitReady(victim)
	evs := membershipEvents(t, l, victim.ID)
	if last := evs[len(evs)-1]; last.Change != event.MemberJoined || last.Readmitted != tomb.Index || last.KeyID != keyID {
		t.Fatalf("readmission event %+v, want joined readmitting %d", last, tomb.Index)
	}
	if _, still := l.Node().FSM().View().Removed[victim.ID]; still {
		t.Fatal("tombstone not cleared by the readmission")
	}
}

// A join naming a member's id with another address or key, a member's
// address, or a member's key is a Conflict that names both sides and
// changes nothing; so is a node record changing a member's key. The same
// member joining again is a no-op.
func TestDuplicateMembersRefused(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 2, testcluster.Options{})
	l := c.WaitLeader()
	n2 := c.Node(1)
	if l == n2 {
		n2 = c.Node(0)
	}
	ctx := context.Background()
	oldKey := principal.IDOf(nodeKey(t, n2).Public().(ed25519.PublicKey))
	_, rogue, _ := principal.Generate(nil)
	rogueID := principal.IDOf(rogue.Public().(ed25519.PublicKey))
	before := snapshotOf(t, c)
	join := func(id, raftAddr string, key ed25519.PrivateKey) error {
		req, err := cluster.SignJoin(cluster.JoinRequest{NodeID: id, RaftAddr: raftAddr, APIAddr: "mem://" + id + "-rogue"}, key)
		if err != nil {
			t.Fatal(err)
		}
		return l.Node().AddServer(ctx, req)
	}
	wantKind(t, "a second "+n2.ID+" elsewhere with another key", join(n2.ID, "raft://elsewhere", rogue), cnverr.Conflict,
		n2.RaftAddr(), string(oldKey), "raft://elsewhere", string(rogueID))
	wantKind(t, "a second "+n2.ID+" elsewhere with its key", join(n2.ID, "raft://elsewhere", nodeKey(t, n2)), cnverr.Conflict,
		n2.RaftAddr(), "raft://elsewhere", "move-member")
	wantKind(t, "a second "+n2.ID+" at its address with another key", join(n2.ID, n2.RaftAddr(), rogue), cnverr.Conflict,
		string(oldKey), string(rogueID))
	wantKind(t, "another id at a member's address", join("n9", l.RaftAddr(), rogue), cnverr.Conflict, l.RaftAddr(), l.ID)
	wantKind(t, "another id with a member's key", join("n9", "raft://n9", nodeKey(t, n2)), cnverr.Conflict, string(oldKey), n2.ID)
	rec := l.Node().FSM().View().Nodes[n2.ID]
	rec.PublicKey = rogue.Public().(ed25519.PublicKey)
	wantKind(t, "a record changing "+n2.ID+"'s key", registerSigned(t, l, rec, rogue), cnverr.Conflict, string(oldKey), string(rogueID))
	if err := join(n2.ID, n2.RaftAddr(), nodeKey(t, n2)); err != nil {
		t.Fatalf("the member joining again: %v", err)
	}
	if got := snapshotOf(t, c); got != before {
		t.Fatalf("refused joins changed something: %+v, was %+v", got, before)
	}
	if outs, err := c.Invoke(l, nil, checkpoint()); err != nil || !outs[0].Result.Allowed() {
		t.Fatalf("the cluster after the refusals: %v %+v", err, outs)
	}
}

func registerSigned(t *testing.T, l *testcluster.Node, rec fsm.Node, key ed25519.PrivateKey) error {
	t.Helper()
	b, err := codec.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	return l.Node().RegisterNode(context.Background(), cluster.SignedNode{Record: rec,
		Signature: ed25519.Sign(key, append([]byte("cnv-node-record-v1\n"), b...))})
}

// A removal committed without its configuration change (its leader
// failed in between) is completed by the leader: the server leaves.
func TestCommittedRemovalIsCompleted(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	l := c.WaitLeader()
	victim := c.Followers()[0]
	addr, _ := inConfig(t, c, victim.ID)
	if err := l.Node().LedgerChange(context.Background(), fsm.Membership{Change: event.MemberRemoved, NodeID: victim.ID,
		RaftAddr: addr, By: "client:ops", Cause: "cluster remove (its leader failed before the configuration change)"}); err != nil {
		t.Fatal(err)
	}
	testcluster.WaitFor(t, victim.ID+" out of the configuration", 10*time.Second, func() error {
		if _, in := inConfig(t, c, victim.ID); in {
			return fmt.Errorf("still in")
		}
		return nil
	})
}

// A move changes a member's Raft address in the configuration and its
// record, keeps its suffrage and is ledgered with the old address; moving
// it back makes it reachable again. Moving to a member's address, or a
// member that does not exist, is refused.
func TestMoveServer(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	l := c.WaitLeader()
	f := c.Followers()[0]
	ctx := context.Background()
	o := cluster.Origin{By: "token", Cause: "cluster move-member from 127.0.0.1:9 by a cluster-token holder"}
	wantKind(t, "a move onto the leader's address", l.Node().MoveServer(ctx, cluster.MoveRequest{NodeID: f.ID, RaftAddr: l.RaftAddr(), Origin: o}),
		cnverr.Conflict, l.RaftAddr(), l.ID)
	wantKind(t, "a move of nobody", l.Node().MoveServer(ctx, cluster.MoveRequest{NodeID: "nosuch", RaftAddr: "raft://x", Origin: o}), cnverr.NotFound)
	wantKind(t, "a move without an address", l.Node().MoveServer(ctx, cluster.MoveRequest{NodeID: f.ID, Origin: o}), cnverr.InvalidInput)
	orig := f.RaftAddr()
	for _, to := range []string{"raft://" + f.ID + "-moved", orig} {
		if err := l.Node().MoveServer(ctx, cluster.MoveRequest{NodeID: f.ID, RaftAddr: to, Origin: o}); err != nil {
			t.Fatalf("move to %s: %v", to, err)
		}
		if addr, _ := inConfig(t, c, f.ID); addr != to {
			t.Fatalf("configuration has %s at %s, want %s", f.ID, addr, to)
		}
		if rec := l.Node().FSM().View().Nodes[f.ID]; rec.RaftAddr != to || !rec.Voter {
			t.Fatalf("record %+v after the move to %s", rec, to)
		}
		evs := membershipEvents(t, l, f.ID)
		if last := evs[len(evs)-1]; last.Change != event.MemberMoved || last.RaftAddr != to || last.By != "token" || !last.Voter {
			t.Fatalf("move event %+v", last)
		}
	}
	c.WaitReady(f)
	if outs, err := c.Invoke(f, nil, checkpoint()); err != nil || !outs[0].Result.Allowed() {
		t.Fatalf("invoke through the member moved back: %v %+v", err, outs)
	}
	// A non-voter joins as one and stays one when it moves.
	nv := c.NewNode()
	req, err := cluster.SignJoin(cluster.JoinRequest{NodeID: nv.ID, RaftAddr: nv.RaftAddr(), APIAddr: nv.APIAddr(), Nonvoter: true}, nodeKey(t, nv))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Node().AddServer(ctx, req); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"", "raft://" + nv.ID + "-moved"} {
		if to != "" {
			if err := l.Node().MoveServer(ctx, cluster.MoveRequest{NodeID: nv.ID, RaftAddr: to, Origin: o}); err != nil {
				t.Fatal(err)
			}
		}
		cfg := l.Node().Raft().GetConfiguration()
		if err := cfg.Error(); err != nil {
			t.Fatal(err)
		}
		for _, s := range cfg.Configuration().Servers {
			if string(s.ID) == nv.ID && s.Suffrage != raft.Nonvoter {
				t.Fatalf("%s is a %v (moved to %q), want a nonvoter", nv.ID, s.Suffrage, to)
			}
		}
	}
}

func checkpoint() invocation.Invocation {
	return invocation.Invocation{Capability: "ledger.checkpoint"}
}
