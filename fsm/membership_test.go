package fsm

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

func memberCmd(m Membership) Command { return Command{Kind: KindMembership, Membership: &m} }

func nodeCmd(id string, pub ed25519.PublicKey, voter bool) Command {
	return Command{Kind: KindNode, Node: &Node{ID: id, RaftAddr: id + ":7000", APIAddr: id + ":8080", PublicKey: pub, Voter: voter}}
}

// lastEvent is the ledger's newest event.
func (h *harness) lastEvent() event.Event {
	h.t.Helper()
	e, err := h.store.Event(h.store.Head().Size - 1)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// A removal tombstones the node id and its recorded key and deletes its
// record; the tombstones survive a restart; a join readmits the id and
// the joiner's key, and an old key of that id stays tombstoned. Every
// change is one MembershipChanged event with its cause.
func TestMembershipTombstonesAndReadmission(t *testing.T) {
	h := newHarness(t)
	k1, k2 := seededKey("n3-old").Public().(ed25519.PublicKey), seededKey("n3-new").Public().(ed25519.PublicKey)
	id1, id2 := principal.IDOf(k1), principal.IDOf(k2)
	h.apply(memberCmd(Membership{Change: event.MemberJoined, NodeID: "n3", KeyID: id1, RaftAddr: "n3:7000", By: "token",
		Cause: "join request from 127.0.0.1:1 with the cluster token"}))
	h.apply(nodeCmd("n3", k1, false))
	if r := h.apply(memberCmd(Membership{Change: event.MemberPromoted, NodeID: "n3", RaftAddr: "n3:7000", Voter: true, By: "autopilot",
		Cause: "autopilot: caught up"}))[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	if !h.f.View().Nodes["n3"].Voter {
		t.Fatal("promotion did not set the record's voter flag")
	}
	r := h.apply(memberCmd(Membership{Change: event.MemberRemoved, NodeID: "n3", By: "client:ops",
		Cause: "cluster remove from 127.0.0.1:2 by client certificate ops"}))[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	removedAt := h.index
	e := h.lastEvent()
	mc := e.Data.(event.MembershipChanged)
	if mc.Change != event.MemberRemoved || mc.KeyID != id1 || mc.RaftAddr != "n3:7000" || !mc.Voter || mc.By != "client:ops" || e.Actor != "n3" {
		t.Fatalf("removal event %+v", e)
	}
	check := func(what string, wantID, wantOld, wantNew bool) {
		t.Helper()
		v := h.f.View()
		_, gotID := v.Removed["n3"]
		_, gotOld := v.RemovedKeys[id1]
		_, gotNew := v.RemovedKeys[id2]
		if gotID != wantID || gotOld != wantOld || gotNew != wantNew {
			t.Fatalf("%s: tombstoned id %v, old key %v, new key %v; want %v %v %v", what, gotID, gotOld, gotNew, wantID, wantOld, wantNew)
		}
	}
	check("after the removal", true, true, false)
	if _, ok := h.f.View().Nodes["n3"]; ok {
		t.Fatal("the removed node's record is still there")
	}
	if tb, ok := h.f.View().Tombstoned("n9", id1); !ok || tb.Index != removedAt || tb.Time != h.now {
		t.Fatalf("the key's tombstone: %+v %v (want index %d, the entry's time)", tb, ok, removedAt)
	}
	h.store.Close()
	h.open()
	check("after a restart", true, true, false)
	// Readmitted under its id with a new key: the old key stays out.
	h.apply(memberCmd(Membership{Change: event.MemberJoined, NodeID: "n3", KeyID: id2, RaftAddr: "n3:7000", By: "token",
		Cause: "join request from 127.0.0.1:3 with the cluster token"}))
	if mc := h.lastEvent().Data.(event.MembershipChanged); mc.Readmitted != removedAt || mc.KeyID != id2 {
		t.Fatalf("join event %+v, want readmitted %d", mc, removedAt)
	}
	check("after the readmission", false, true, false)
	// The old key under another id is readmitted only by its own join.
	h.apply(memberCmd(Membership{Change: event.MemberJoined, NodeID: "n9", KeyID: id1, RaftAddr: "n9:7000", By: "token", Cause: "join"}))
	check("after the old key's join", false, false, false)
}

// A change whose event would not validate answers an error and changes
// nothing, ledger included.
func TestMembershipRefusesInvalidChanges(t *testing.T) {
	h := newHarness(t)
	pub := seededKey("n2").Public().(ed25519.PublicKey)
	h.apply(nodeCmd("n2", pub, true))
	size, view := h.store.Head().Size, h.f.View()
	for name, m := range map[string]Membership{
		"no cause":        {Change: event.MemberRemoved, NodeID: "n2", By: "token"},
		"no by":           {Change: event.MemberRemoved, NodeID: "n2", Cause: "x"},
		"unknown change":  {Change: "evicted", NodeID: "n2", By: "token", Cause: "x"},
		"bad node id":     {Change: event.MemberRemoved, NodeID: "n 2", By: "token", Cause: "x"},
		"bad address":     {Change: event.MemberMoved, NodeID: "n2", RaftAddr: "a\nb", By: "token", Cause: "x"},
		"move from where": {Change: event.MemberMoved, NodeID: "nx", RaftAddr: "b:1", By: "token", Cause: "x"},
	} {
		r := h.apply(memberCmd(m))[0]
		if r.Err == nil || r.Err.Kind != cnverr.InvalidInput {
			t.Errorf("%s: %+v, want InvalidInput", name, r)
		}
	}
	if h.store.Head().Size != size || h.f.View().Nodes["n2"].RaftAddr != view.Nodes["n2"].RaftAddr || len(h.f.View().Removed) != 0 {
		t.Fatal("a refused membership change changed something")
	}
}

// A move sets the record's addresses and ledgers the old ones.
func TestMembershipMove(t *testing.T) {
	h := newHarness(t)
	h.apply(nodeCmd("n2", seededKey("n2").Public().(ed25519.PublicKey), true))
	if r := h.apply(memberCmd(Membership{Change: event.MemberMoved, NodeID: "n2", RaftAddr: "10.0.0.9:7000", APIAddr: "10.0.0.9:8080",
		FromRaftAddr: "n2:7000", By: "token", Cause: "cluster move-member"}))[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	rec := h.f.View().Nodes["n2"]
	mc := h.lastEvent().Data.(event.MembershipChanged)
	if rec.RaftAddr != "10.0.0.9:7000" || rec.APIAddr != "10.0.0.9:8080" || mc.FromRaftAddr != "n2:7000" || mc.FromAPIAddr != "n2:8080" || !mc.Voter {
		t.Fatalf("record %+v, event %+v", rec, mc)
	}
}

// The bytes a removal and a readmission leave in the tombstone buckets
// are pinned (a change to how tombstones are stored fails here), and
// replaying the same entries elsewhere gives the same ledger root.
func TestPinnedMembershipState(t *testing.T) {
	run := func() (*harness, ledger.Head) {
		h := newSeededHarness(t)
		for _, n := range []string{"n2", "n3"} {
			h.apply(nodeCmd(n, seededKey(n).Public().(ed25519.PublicKey), true))
			h.apply(memberCmd(Membership{Change: event.MemberRemoved, NodeID: n, By: "client:ops", Cause: "cluster remove " + n}))
		}
		h.apply(memberCmd(Membership{Change: event.MemberJoined, NodeID: "n2", KeyID: principal.IDOf(seededKey("n2b").Public().(ed25519.PublicKey)),
			RaftAddr: "n2:7000", By: "token", Cause: "join n2"}))
		head := h.store.Head()
		h.store.Close()
		return h, head
	}
	h, head := run()
	_, again := run()
	if head.Root.String() != again.Root.String() {
		t.Fatalf("the same entries gave roots %s and %s", head.Root, again.Root)
	}
	got := dumpState(t, filepath.Join(h.dir, "state.db"))
	want := map[string]string{
		"fsm.removed_ids":  "e7df6260abeaa35f585b61dfdb8d417d71bd47baab3c905ccda2a641b97361c6", // n3
		"fsm.removed_keys": "16093a5a87aee3cd6e6b331c558465da45d908f549e768aa2428b63bc204ecdf", // n2's old key, n3's
	}
	if root := head.Root.String(); root != "de66078ef25c092c24fd9adf4c855798bb64dc46639310b63c697635663519e2" || head.Size != 6 {
		t.Errorf("ledger size %d root %s", head.Size, root)
	}
	for name, sum := range want {
		if got[name] != sum {
			t.Errorf("bucket %s: %s, want %s", name, got[name], sum)
		}
	}
}

func TestMembershipIsNotNodeProposable(t *testing.T) {
	if NodeProposable(KindMembership) {
		t.Fatal("nodes may propose membership changes (tombstones)")
	}
	if err := (&Command{Kind: KindMembership, Node: &Node{ID: "x"}}).check(); err == nil {
		t.Fatal("a membership kind with another body was accepted")
	}
}

// FuzzMembership applies membership commands with arbitrary fields, the
// way a leader's entry would carry them: a command either applies (one
// valid MembershipChanged event) or is refused changing nothing; it never
// stops the node (a ledger append that fails validation would).
func FuzzMembership(f *testing.F) {
	f.Add("removed", "n2", "", "n2:7000", "", "", "client:ops", "cluster remove")
	f.Add("joined", "n2", "k_0123456789abcdef", "n2:7000", "n2:8080", "", "token", "join")
	f.Add("moved", "n2", "", "n9:7000", "n9:8080", "n2:7000", "token", "move")
	f.Add("moved", "zz", "", "a\x00", "", "", "", "")
	f.Fuzz(func(t *testing.T, change, id, key, raftAddr, apiAddr, from, by, cause string) {
		h := newHarness(t)
		h.apply(nodeCmd("n2", seededKey("n2").Public().(ed25519.PublicKey), true))
		size := h.store.Head().Size
		r := h.apply(memberCmd(Membership{Change: event.MemberChange(change), NodeID: id, KeyID: principal.KeyID(key),
			RaftAddr: raftAddr, APIAddr: apiAddr, FromRaftAddr: from, By: by, Cause: cause}))[0]
		grew := h.store.Head().Size - size
		switch {
		case r.Err != nil && grew != 0:
			t.Fatalf("refused (%v) but ledgered %d events", r.Err, grew)
		case r.Err == nil && grew != 1:
			t.Fatalf("applied but ledgered %d events", grew)
		case r.Err == nil:
			if e := h.lastEvent(); e.Validate() != nil {
				t.Fatalf("ledgered an invalid event: %+v", e)
			}
		}
	})
}
