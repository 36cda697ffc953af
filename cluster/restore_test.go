package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/internal/testcluster"
)

type offline struct{}

func (offline) Join(context.Context, string, cluster.JoinRequest) error { return errors.New("offline") }
func (offline) ReadIndex(context.Context) (uint64, error)               { return 0, errors.New("offline") }
func (offline) RegisterNode(context.Context, cluster.SignedNode) error  { return errors.New("offline") }
func (offline) Remove(context.Context, cluster.RemoveRequest) error     { return errors.New("offline") }
func (offline) Propose(context.Context, cluster.SignedProposal) ([]fsm.Result, error) {
	return nil, errors.New("offline")
}

// backupOf takes a snapshot on n and returns the file; a second one on
// the same node is refused while the first is open.
func backupOf(t *testing.T, n *cluster.Node) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := n.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := n.Backup(ctx); !errors.Is(err, cluster.ErrSnapshotBusy) {
		t.Fatalf("a second snapshot at once: %v", err)
	}
	var buf bytes.Buffer
	if n, err := b.WriteTo(&buf); err != nil || n != b.Size() {
		t.Fatalf("wrote %d of %d: %v", n, b.Size(), err)
	}
	return buf.Bytes()
}

// startOn starts a one-node cluster.Node in memory on dir.
func startOn(dir, id string, boot bool) (*cluster.Node, error) {
	store := raft.NewInmemStore()
	_, trans := raft.NewInmemTransport(raft.ServerAddress("raft://" + id))
	return cluster.New(cluster.Config{NodeID: id, DataDir: dir, APIAddr: "mem://" + id, Bootstrap: boot, Transport: trans,
		LogStore: store, StableStore: store, SnapshotStore: raft.NewInmemSnapshotStore(), Remote: offline{},
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 50 * time.Millisecond})
}

// A restored data dir seeds only a node that bootstraps, with the ID it
// was restored for; that node leads a one-node cluster at the snapshot's
// index with the same ledger, goes on from there, and restarts as any
// node does. The old cluster's tombstones are not restored.
func TestRestoreSeed(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 5; i++ {
		if _, err := c.Invoke(c.Node(i%3), nil, userCreate(fmt.Sprintf("u%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	gone := c.Followers()[1]
	if err := c.Leader().Node().RemoveServer(context.Background(), cluster.RemoveRequest{NodeID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	c.Stop(gone)
	f := c.Followers()[0]
	testcluster.WaitFor(t, "the tombstone on "+f.ID, 10*time.Second, func() error {
		if _, ok := f.Node().FSM().View().Removed[gone.ID]; !ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	file := backupOf(t, f.Node())
	dir := t.TempDir()
	res, err := cluster.RestoreDataDir(bytes.NewReader(file), dir, cluster.RestoreOptions{NodeID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Report.Meta
	for _, tc := range []struct {
		id   string
		boot bool
		want string
	}{{"m1", false, "start this node with --bootstrap"}, {"m2", true, `restored for node "m1"`}} {
		if n, err := startOn(dir, tc.id, tc.boot); !errors.Is(err, cluster.ErrSeed) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			if n != nil {
				n.Shutdown()
			}
			t.Fatalf("%s (bootstrap %v): %v, want %q", tc.id, tc.boot, err, tc.want)
		}
	}
	n, err := startOn(dir, "m1", true)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	testcluster.WaitFor(t, "the restored node leads and goes on", 20*time.Second, func() error {
		if !n.IsLeader() || n.AppliedIndex() <= m.RaftIndex || n.Store().Head().Size <= m.LedgerSize {
			return fmt.Errorf("leader %v, applied %d, ledger %d", n.IsLeader(), n.AppliedIndex(), n.Store().Head().Size)
		}
		return nil
	})
	if root, err := n.Store().Root(m.LedgerSize); err != nil || root.String() != m.LedgerRoot {
		t.Fatalf("root at %d: %s %v, want %s", m.LedgerSize, root, err, m.LedgerRoot)
	}
	if v := n.FSM().View(); len(v.Removed) != 0 || len(v.RemovedKeys) != 0 {
		t.Fatalf("the old cluster's tombstones were restored: %v %v", v.Removed, v.RemovedKeys)
	}
	if _, err := os.Stat(filepath.Join(dir, "seed.json")); !os.IsNotExist(err) {
		t.Fatalf("the seed is still there: %v", err)
	}
	if _, err := cluster.RestoreDataDir(bytes.NewReader(file), dir, cluster.RestoreOptions{}); !errors.Is(err, cluster.ErrDataDirInUse) {
		t.Fatalf("restore over the seeded node: %v", err)
	}
}

// A whole in-memory cluster restored from a snapshot: n1 bootstraps on
// the restored dir, n2 and n3 join and receive the state by snapshot.
func TestRestoredClusterInMemory(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	file := backupOf(t, c.Leader().Node())
	var size uint64
	var root string
	tune := func(n *testcluster.Node, cfg *cluster.Config) {
		if n.ID == "n1" && size == 0 {
			res, err := cluster.RestoreDataDir(bytes.NewReader(file), cfg.DataDir, cluster.RestoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			size, root = res.Report.Meta.LedgerSize, res.Report.Meta.LedgerRoot
		}
	}
	c2 := testcluster.New(t, 3, testcluster.Options{Tune: tune})
	c2.WaitConverged()
	for _, n := range c2.Nodes() {
		if r, err := n.Node().Store().Root(size); err != nil || r.String() != root {
			t.Fatalf("%s: root at %d %s %v, want %s", n.ID, size, r, err, root)
		}
	}
	if _, err := c2.Invoke(c2.Node(2), c.Admin(), userCreate("after", "")); err != nil {
		t.Fatalf("the old admin on the restored cluster: %v", err)
	}
}
