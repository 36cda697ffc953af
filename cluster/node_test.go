package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// The in-memory tests below run real nodes (Raft, FSM, state.db files)
// over raft's in-memory transport and stores: no sockets.

const testCaps = `{"capabilities":[
 {"path":"user.create","version":"1.0.0","effects":["mutate_state"]},
 {"path":"user.read","effects":["read_only"]}]}`

func userCreate(name, requestID string) invocation.Invocation {
	return invocation.Invocation{Capability: "user.create", RequestID: requestID, CorrelationID: name,
		Args: []invocation.Arg{{Name: "name", Value: name}}}
}

// noSelfSnapshots keeps a node from snapshotting on its own: a snapshot
// in its store can then only have been installed by the leader.
func noSelfSnapshots(cfg *cluster.Config) {
	cfg.SnapshotThreshold, cfg.SnapshotInterval = 1<<40, time.Hour
}

func sameHead(a, b ledger.Head) bool { return a.Size == b.Size && a.Root.String() == b.Root.String() }

// One node bootstraps, leads, installs the admin keys, publishes its
// record and is ready.
func TestBootstrapSingleNode(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 1, testcluster.Options{})
	n := c.Node(0).Node()
	if !n.IsLeader() || n.Ready() != nil || !n.HasState() {
		t.Fatalf("leader %v ready %v state %v", n.IsLeader(), n.Ready(), n.HasState())
	}
	view := n.FSM().View()
	if !view.Bootstrapped {
		t.Fatal("not bootstrapped")
	}
	if _, ok := view.Principal(principal.IDOf(c.AdminPublic())); !ok {
		t.Fatalf("admin key not installed: %v", view.PrincipalList())
	}
	if rec, ok := view.Nodes["n1"]; !ok || rec.KeyID != n.KeyID() || rec.RaftAddr != "raft://n1" || rec.APIAddr != "mem://n1" || !rec.Voter {
		t.Fatalf("own record %+v (present %v)", rec, ok)
	}
	ms, err := n.Members()
	if err != nil || len(ms) != 1 || !ms[0].Leader || ms[0].Raft != "voter" {
		t.Fatalf("members %+v %v", ms, err)
	}
	// The admin key governs: registering capabilities is allowed.
	c.AdminInvoke(c.Node(0), "capability.register", []byte(testCaps))
}

// Three nodes: one leader every node agrees on, three voters, every
// record published with its key and addresses on every node.
func TestJoinThreeNodes(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	nodes := c.Nodes()
	testcluster.WaitFor(t, "every node knows every record and the leader", 10*time.Second, func() error {
		leaders, ids := 0, map[string]bool{}
		for _, tn := range nodes {
			n := tn.Node()
			if n.IsLeader() {
				leaders++
			}
			id, _ := n.Leader()
			ids[id] = true
			view := n.FSM().View()
			for _, o := range nodes {
				rec, ok := view.Nodes[o.ID]
				if !ok || rec.KeyID != o.Node().KeyID() || rec.RaftAddr != o.RaftAddr() || rec.APIAddr != o.APIAddr() {
					return fmt.Errorf("%s sees %s's record as %+v (present %v)", tn.ID, o.ID, rec, ok)
				}
			}
		}
		if leaders != 1 || len(ids) != 1 || ids[""] {
			return fmt.Errorf("%d leaders, leader ids %v", leaders, ids)
		}
		return nil
	})
	ms, err := c.Leader().Node().Members()
	if err != nil || len(ms) != 3 {
		t.Fatalf("members %+v %v", ms, err)
	}
	for _, m := range ms {
		if m.Raft != "voter" {
			t.Fatalf("member %+v is not a voter", m)
		}
	}
	c.AdminInvoke(c.Followers()[0], "capability.register", []byte(testCaps))
	c.WaitConverged()
}

func TestClusterSnapshotInstallForLateJoiner(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{Tune: func(n *testcluster.Node, cfg *cluster.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 20, 5, 50*time.Millisecond
		if n.ID == "n4" {
			noSelfSnapshots(cfg)
		}
	}})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 60; i++ {
		if _, err := c.Invoke(c.Node(i%3), nil, userCreate(fmt.Sprintf("u%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	l := c.Leader()
	if err := l.Node().Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, _ := l.Snapshots().Latest()
	tn := c.Add()
	c.WaitReady(tn)
	st := c.WaitConverged()
	if st.Size < 60 {
		t.Fatalf("ledger size %d", st.Size)
	}
	// n4 never snapshots by itself: what its store holds was installed.
	got, ok := tn.Snapshots().Latest()
	if tn.Snapshots().Written() == 0 || !ok || got.Index < first.Index {
		t.Fatalf("late joiner installed %d snapshots, latest %+v (leader's at %d)", tn.Snapshots().Written(), got, first.Index)
	}
	t.Logf("leader snapshot at %d; late joiner installed one at %d and converged at size %d", first.Index, got.Index, st.Size)
}

// A follower cut off while the leader writes and compacts its log catches
// up by InstallSnapshot once the partition heals.
func TestSnapshotInstallAfterPartition(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{Tune: func(n *testcluster.Node, cfg *cluster.Config) {
		cfg.TrailingLogs = 5
		noSelfSnapshots(cfg) // only the explicit snapshot below
	}})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	f := c.Followers()[0]
	before := c.WaitConverged()
	c.Partition(f)
	l := c.Leader()
	for i := 0; i < 40; i++ {
		if _, err := c.Invoke(l, nil, userCreate(fmt.Sprintf("p%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Node().Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snap, _ := l.Snapshots().Latest()
	first, err := l.LogStore().FirstIndex()
	if err != nil || first <= f.Node().AppliedIndex()+1 {
		t.Fatalf("leader's log starts at %d (%v); the follower applied %d: nothing to install", first, err, f.Node().AppliedIndex())
	}
	if h := f.Node().Store().Head(); !sameHead(h, before) {
		t.Fatalf("partitioned follower moved from %d to %d", before.Size, h.Size)
	}
	c.Heal()
	st := c.WaitConverged()
	got, ok := f.Snapshots().Latest()
	if f.Snapshots().Written() == 0 || !ok || got.Index < snap.Index {
		t.Fatalf("follower installed %d snapshots, latest %+v (leader's at %d)", f.Snapshots().Written(), got, snap.Index)
	}
	if h := f.Node().Store().Head(); !sameHead(h, st) || st.Size < before.Size+40 {
		t.Fatalf("follower at %d, leader at %d (before the partition %d)", h.Size, st.Size, before.Size)
	}
	c.WaitReady(f)
}

// A node stopped and restarted on its stores and state.db comes back with
// the same ledger, rejoins through its stored configuration and catches
// up with what it missed.
func TestRestartNodeFromStores(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 10; i++ {
		if _, err := c.Invoke(c.Node(i%3), nil, userCreate(fmt.Sprintf("a%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitConverged()
	f := c.Followers()[0]
	was := f.Node().Store().Head()
	c.Stop(f)
	for i := 0; i < 10; i++ {
		if _, err := c.Invoke(c.Leader(), nil, userCreate(fmt.Sprintf("b%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	if last, err := f.LogStore().LastIndex(); err != nil || last == 0 {
		t.Fatalf("stopped node's log: last index %d %v", last, err)
	}
	// Restarted alone first, it shows what it kept: no peer can send it
	// anything yet.
	c.Partition(f)
	c.Restart(f)
	if h := f.Node().Store().Head(); !sameHead(h, was) || !f.Node().HasState() {
		t.Fatalf("restarted at size %d (stopped at %d), has state %v", h.Size, was.Size, f.Node().HasState())
	}
	c.Heal()
	c.WaitReady(f)
	st := c.WaitConverged()
	if st.Size < was.Size+10 {
		t.Fatalf("size %d after restart, %d before", st.Size, was.Size)
	}
	ms, err := c.Leader().Node().Members()
	if err != nil || len(ms) != 3 {
		t.Fatalf("members after restart: %+v %v", ms, err)
	}
	if outs, err := c.Invoke(f, nil, userCreate("after", "")); err != nil || !outs[0].Result.Allowed() {
		t.Fatalf("invoke via the restarted node: %v %+v", err, outs)
	}
}

func TestClusterRestartFromDisk(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 10; i++ {
		c.Invoke(c.Node(i%3), nil, userCreate(fmt.Sprintf("u%d", i), ""))
	}
	want := c.WaitConverged()
	c.StopAll()
	for _, tn := range c.Nodes() {
		c.Restart(tn)
	}
	c.WaitLeader()
	for _, tn := range c.Nodes() {
		c.WaitReady(tn)
	}
	got := c.WaitConverged()
	if got.Size < want.Size {
		t.Fatalf("after restart size %d, before %d", got.Size, want.Size)
	}
	outs, err := c.Invoke(c.Node(1), nil, userCreate("after", ""))
	if err != nil || !outs[0].Result.Allowed() {
		t.Fatalf("invoke after restart: %v %+v", err, outs)
	}
}
