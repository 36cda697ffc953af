package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

const snapToken = "snapshot-test-token-0123456789"

// govState is what a snapshot must carry beyond the ledger: a policy, a
// principal, a link with uses charged and a revoked link.
type govState struct {
	bot              ed25519.PrivateKey
	charged, revoked delegation.Link
}

func setUpGovernance(t *testing.T, c *testcluster.Cluster) govState {
	t.Helper()
	l := c.Leader()
	c.AdminInvokeAPI(l, "capability.register", []byte(testCaps))
	pol, err := os.ReadFile("../docs/examples/policy.json")
	if err != nil {
		t.Fatal(err)
	}
	c.AdminInvokeAPI(l, "policy.set", pol)
	g := govState{bot: c.Register(l, "bot", principal.Agent, principal.DefaultTenant)}
	pub := g.bot.Public().(ed25519.PublicKey)
	g.charged = c.Grant(pub, 10, time.Now().Add(time.Hour), "user.*")
	g.revoked = c.Grant(pub, 0, time.Now().Add(time.Hour), "user.*")
	for i := 0; i < 3; i++ {
		chained(t, c, l, g.bot, g.charged, fmt.Sprintf("charged-%d", i), true)
	}
	chained(t, c, l, g.bot, g.revoked, "before-revocation", true)
	c.AdminInvokeAPI(l, "delegation.revoke", nil, invocation.Arg{Name: "link", Value: g.revoked.Hash().String()})
	return g
}

// chained invokes user.create as bot through link on n and checks the
// decision.
func chained(t *testing.T, c *testcluster.Cluster, n *testcluster.Node, bot ed25519.PrivateKey, link delegation.Link, name string, allow bool) {
	t.Helper()
	inv := userCreate(name, "")
	inv.Chain = [][]byte{c.Token(link)}
	outs, err := c.InvokeAPI(n, bot, inv)
	if err != nil || (outs[0].Decision == "allow") != allow {
		t.Fatalf("%s via the chain on %s: %v %+v (want allow %v)", name, n.ID, err, outs, allow)
	}
}

// writeLoad invokes on every node until stop is closed; done counts the
// writes committed so far.
func writeLoad(t *testing.T, c *testcluster.Cluster, stop <-chan struct{}) (done *atomic.Int64, wait func()) {
	done = new(atomic.Int64)
	var wg sync.WaitGroup
	for w, tn := range c.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.InvokeAPI(tn, nil, userCreate(fmt.Sprintf("load-%d-%d", w, i), "")); err != nil {
					t.Errorf("write during the snapshot: %v", err)
					return
				}
				done.Add(1)
			}
		}()
	}
	return done, wg.Wait
}

// saveSnapshot downloads a snapshot through addrs into a file; midway,
// when set, runs after the first bytes arrived.
func saveSnapshot(t *testing.T, cl *client.Client, addrs string, midway func()) (string, *client.SnapshotStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ss, err := cl.Snapshot(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Body.Close()
	path := filepath.Join(t.TempDir(), "cluster.snap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, err := io.CopyN(f, ss.Body, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if midway != nil {
		midway()
	}
	if n, err := io.Copy(f, ss.Body); err != nil || first+n != ss.Size {
		t.Fatalf("copied %d of %d: %v", first+n, ss.Size, err)
	}
	return path, ss
}

// The snapshot is one consistent point: its size and root are the live
// ledger's at that size, its Raft index separates the events it holds
// from those after it, and a new cluster restored from it has the same
// ledger prefix and governance state and goes on from there.
func TestSnapshotSaveRestoreUnderWrites(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{Token: snapToken})
	g := setUpGovernance(t, c)
	stop := make(chan struct{})
	done, wait := writeLoad(t, c, stop)
	testcluster.WaitFor(t, "writes under way", 20*time.Second, func() error {
		if n := done.Load(); n < 10 {
			return fmt.Errorf("%d writes", n)
		}
		return nil
	})
	f := c.Followers()[0]
	cl := client.New(client.Options{Token: snapToken, Timeout: 10 * time.Second})
	// The first endpoint is dead: failover. While the file streams, the
	// cluster commits more writes (the snapshot's point is already fixed).
	path, ss := saveSnapshot(t, cl, "127.0.0.1:1,"+f.APIAddr(), func() {
		from := done.Load()
		testcluster.WaitFor(t, "writes while the snapshot streams", 20*time.Second, func() error {
			if n := done.Load() - from; n < 10 {
				return fmt.Errorf("%d writes", n)
			}
			return nil
		})
	})
	close(stop)
	wait()
	if ss.Node != f.ID {
		t.Fatalf("served by %q, want %s", ss.Node, f.ID)
	}
	rep := inspect(t, path, c)
	checkConsistentPoint(t, c, rep.Meta)
	c2, restored := restoreCluster(t, path)
	if len(restored.DroppedNodes) != 3 {
		t.Fatalf("dropped node records %v, want the old cluster's three", restored.DroppedNodes)
	}
	checkRestored(t, c, c2, rep.Meta, g)
}

func inspect(t *testing.T, path string, c *testcluster.Cluster) *backup.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var trusted []ed25519.PublicKey
	for _, n := range c.Nodes() {
		trusted = append(trusted, n.Node().PublicKey())
	}
	rep, err := backup.Check(f, t.TempDir(), backup.VerifyOptions{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Ledger.Verified || !rep.Trusted || rep.Meta.RaftIndex < rep.Meta.ReadIndex || rep.Meta.LedgerSize < 20 {
		t.Fatalf("report %+v", rep)
	}
	return rep
}

func checkConsistentPoint(t *testing.T, c *testcluster.Cluster, m backup.Meta) {
	t.Helper()
	st := c.Leader().Node().Store()
	root, err := st.Root(m.LedgerSize)
	if err != nil || root.String() != m.LedgerRoot {
		t.Fatalf("the live ledger's root at %d is %s (%v), the snapshot's %s", m.LedgerSize, root, err, m.LedgerRoot)
	}
	last, err := st.Event(m.LedgerSize - 1)
	if err != nil || last.RaftIndex > m.RaftIndex {
		t.Fatalf("event %d at raft index %d is after the snapshot's %d (%v)", m.LedgerSize-1, last.RaftIndex, m.RaftIndex, err)
	}
	if next, err := st.Event(m.LedgerSize); err != nil || next.RaftIndex <= m.RaftIndex {
		t.Fatalf("event %d (written after the snapshot) at raft index %d, the snapshot's %d (%v)", m.LedgerSize, next.RaftIndex, m.RaftIndex, err)
	}
}

// restoreCluster restores path into n1's data dir before its first start
// and starts a three-node cluster on it (n1 bootstraps, n2 and n3 join).
func restoreCluster(t *testing.T, path string) (*testcluster.Cluster, *cluster.Restored) {
	t.Helper()
	var restored *cluster.Restored
	tune := func(n *testcluster.Node, cfg *cluster.Config) {
		if n.ID != "n1" || restored != nil {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if restored, err = cluster.RestoreDataDir(f, cfg.DataDir, cluster.RestoreOptions{NodeID: "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	return testcluster.NewHTTP(t, 3, testcluster.Options{Tune: tune}), restored
}

func checkRestored(t *testing.T, old, c2 *testcluster.Cluster, m backup.Meta, g govState) {
	t.Helper()
	c2.WaitConverged()
	for _, n := range c2.Nodes() {
		st := n.Node().Store()
		if root, err := st.Root(m.LedgerSize); err != nil || root.String() != m.LedgerRoot {
			t.Fatalf("%s: root at %d is %s (%v), want %s", n.ID, m.LedgerSize, root, err, m.LedgerRoot)
		}
		ov, nv := old.Leader().Node().FSM().View(), n.Node().FSM().View()
		if len(nv.Principals) != len(ov.Principals) || nv.Policy.Hash() != ov.Policy.Hash() || st.Head().PolicyHash != m.PolicyHash {
			t.Fatalf("%s: %d principals, policy %q; the old cluster %d, %q", n.ID, len(nv.Principals), nv.Policy.Version(), len(ov.Principals), ov.Policy.Version())
		}
		for _, l := range []delegation.Link{g.charged, g.revoked} {
			want, _, _ := old.Leader().Node().FSM().LinkStateOf(l.Hash())
			got, _, err := n.Node().FSM().LinkStateOf(l.Hash())
			if err != nil || got.Uses != want.Uses || got.Revoked != want.Revoked {
				t.Fatalf("%s: link %s uses %d revoked %v, want %d %v (%v)", n.ID, l.Hash(), got.Uses, got.Revoked, want.Uses, want.Revoked, err)
			}
		}
	}
	// The restored cluster goes on: the old admin and bot act in it.
	l := c2.Leader()
	adminCall(t, c2, l, old.Admin(), userCreate("after-restore", ""))
	chained(t, c2, l, g.bot, g.charged, "charged-after-restore", true)
	chained(t, c2, l, g.bot, g.revoked, "revoked-after-restore", false)
	got, _, _ := l.Node().FSM().LinkStateOf(g.charged.Hash())
	if got.Uses != 4 {
		t.Fatalf("charged link at %d uses after one more, want 4", got.Uses)
	}
}

func adminCall(t *testing.T, c *testcluster.Cluster, n *testcluster.Node, admin ed25519.PrivateKey, inv invocation.Invocation) {
	t.Helper()
	outs, err := c.InvokeAPI(n, admin, inv)
	if err != nil || outs[0].Decision != "allow" {
		t.Fatalf("%s with the old admin key: %v %+v", inv.Capability, err, outs)
	}
}

// Without the cluster token the snapshot is refused (401), as membership
// changes are.
func TestSnapshotNeedsTheToken(t *testing.T) {
	c := testcluster.NewHTTP(t, 1, testcluster.Options{Token: snapToken})
	_, err := client.New(client.Options{Timeout: 5 * time.Second}).Snapshot(context.Background(), c.Node(0).APIAddr())
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("%v", err)
	}
}

// A restore refuses a directory that holds a node, and a truncated file,
// leaving the directory as it was.
func TestRestoreRefusals(t *testing.T) {
	c := testcluster.NewHTTP(t, 1, testcluster.Options{Token: snapToken})
	path, _ := saveSnapshot(t, client.New(client.Options{Token: snapToken}), c.Node(0).APIAddr(), nil)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.RestoreDataDir(bytes.NewReader(b), c.Node(0).Dir, cluster.RestoreOptions{}); !errors.Is(err, cluster.ErrDataDirInUse) {
		t.Fatalf("restore into a live node's dir: %v", err)
	}
	dir := t.TempDir()
	if _, err := cluster.RestoreDataDir(bytes.NewReader(b[:len(b)-200]), dir, cluster.RestoreOptions{}); !errors.Is(err, backup.ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a refused restore left %v", ents)
	}
}
