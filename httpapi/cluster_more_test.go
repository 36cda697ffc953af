package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

func userCreate(name, requestID string) invocation.Invocation {
	return invocation.Invocation{Capability: "user.create", RequestID: requestID, CorrelationID: name,
		Args: []invocation.Arg{{Name: "name", Value: name}}}
}

// ackedAll checks that every acknowledged correlation id is in the
// leader's ledger exactly once.
func (c *testCluster) ackedAll(acked map[string]uint64) {
	c.t.Helper()
	l := c.waitLeader()
	seen := map[string]int{}
	var start uint64
	for {
		evs, next, err := c.client.LedgerEvents(context.Background(), l.apiAddr, start, 1000, client.Read{})
		if err != nil {
			c.t.Fatal(err)
		}
		for _, e := range evs {
			if e.Correlation != "" {
				seen[e.Correlation]++
			}
		}
		if len(evs) == 0 {
			break
		}
		start = next
	}
	for id, idx := range acked {
		if seen[id] != 1 {
			c.t.Errorf("acknowledged %s (ledger index %d) appears %d times", id, idx, seen[id])
		}
	}
}

func TestClusterLeaderLossLosesNoAcknowledgedWrite(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	var mu sync.Mutex
	acked := map[string]uint64{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				tn := c.nodes[(w+i)%3]
				if tn.down.Load() {
					continue
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				outs, err := c.invoke(tn, nil, userCreate(name, ""))
				if err == nil && outs[0].Decision == "allow" {
					mu.Lock()
					acked[name] = outs[0].LedgerIndex
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, "some writes", 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 20 {
			return fmt.Errorf("%d acked", len(acked))
		}
		return nil
	})
	old := c.leader()
	c.stop(old)
	l := c.waitLeader()
	if l == old {
		t.Fatal("no new leader")
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	waitFor(t, "writes under the new leader", 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < before+20 {
			return fmt.Errorf("%d acked", len(acked))
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	c.restart(old)
	c.waitReady(old)
	c.ackedAll(acked)
	c.waitConverged()
}

func TestClusterSnapshotInstallForLateJoiner(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *cluster.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 20, 5, 50*time.Millisecond
	})
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 60; i++ {
		if _, err := c.invoke(c.nodes[i%3], nil, userCreate(fmt.Sprintf("u%d", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	l := c.leader()
	if err := l.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, _ := l.node.Raft().Stats()["last_snapshot_index"], 0
	tn := c.add(false)
	c.waitReady(tn)
	st := c.waitConverged()
	if st.Size < 60 {
		t.Fatalf("ledger size %d", st.Size)
	}
	t.Logf("leader snapshot at %s; late joiner converged at size %d", first, st.Size)
}

func TestClusterRestartFromDisk(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 10; i++ {
		c.invoke(c.nodes[i%3], nil, userCreate(fmt.Sprintf("u%d", i), ""))
	}
	want := c.waitConverged()
	c.stopAll()
	for _, tn := range c.nodes {
		c.restart(tn)
	}
	c.waitLeader()
	for _, tn := range c.nodes {
		c.waitReady(tn)
	}
	got := c.waitConverged()
	if got.Size < want.Size {
		t.Fatalf("after restart size %d, before %d", got.Size, want.Size)
	}
	outs, err := c.invoke(c.nodes[1], nil, userCreate("after", ""))
	if err != nil || outs[0].Decision != "allow" {
		t.Fatalf("invoke after restart: %v %+v", err, outs)
	}
}

func TestClusterRequestIDDedupAcrossLeaderChange(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	first, err := c.invoke(c.followers()[0], nil, userCreate("dedup", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	old := c.leader()
	c.stop(old)
	c.waitLeader()
	again, err := c.invoke(c.leader(), nil, userCreate("dedup", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Duplicate || again[0].LedgerIndex != first[0].LedgerIndex || string(again[0].Signature) != string(first[0].Signature) && again[0].Signer == first[0].Signer {
		t.Fatalf("repeat: %+v\nfirst: %+v", again[0], first[0])
	}
	_, err = c.invoke(c.leader(), nil, userCreate("different", "req-1"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Err.Kind != cnverr.Conflict || ae.Status != 409 {
		t.Fatalf("reused request id with another body: %v", err)
	}
}

// grant issues a root link from the admin to audience.
func (c *testCluster) grant(audience ed25519.PublicKey, maxUses uint64, notAfter time.Time, allow ...string) delegation.Link {
	c.t.Helper()
	cons, err := delegation.NewConstraints(allow, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
	if err != nil {
		c.t.Fatal(err)
	}
	l, err := delegation.Issue(c.admin, delegation.Grant{Audience: audience, Constraints: cons,
		NotBefore: time.Now().Add(-time.Minute).UnixNano(), NotAfter: notAfter.UnixNano(), MaxUses: maxUses}, nil, rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

func token(t *testing.T, l delegation.Link) []byte {
	b, err := delegation.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClusterMaxUsesExactUnderConcurrency(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	bot := c.register(c.leader(), "bot", principal.Agent, principal.DefaultTenant)
	link := c.grant(bot.Public().(ed25519.PublicKey), 10, time.Now().Add(time.Hour), "user.*")
	tok := token(t, link)
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 30; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv := userCreate(fmt.Sprintf("m%d", w), "")
			inv.Chain = [][]byte{tok}
			outs, err := c.invoke(c.nodes[w%3], bot, inv)
			if err != nil {
				t.Errorf("invoke: %v", err)
				return
			}
			if outs[0].Decision == "allow" {
				allowed.Add(1)
			} else {
				denied.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 10 || denied.Load() != 20 {
		t.Fatalf("allowed %d denied %d; want exactly 10 allowed", allowed.Load(), denied.Load())
	}
	for _, tn := range c.nodes {
		ls, err := c.client.Delegation(context.Background(), tn.apiAddr, link.Hash().String(), client.Read{})
		if err != nil || ls.Uses != 10 {
			t.Fatalf("%s link state %+v %v", tn.id, ls, err)
		}
	}
}

func TestClusterRevocationEffectiveEverywhere(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	bot := c.register(c.leader(), "bot", principal.Agent, principal.DefaultTenant)
	link := c.grant(bot.Public().(ed25519.PublicKey), 0, time.Now().Add(time.Hour), "user.*")
	inv := userCreate("before", "")
	inv.Chain = [][]byte{token(t, link)}
	if outs, err := c.invoke(c.nodes[1], bot, inv); err != nil || outs[0].Decision != "allow" {
		t.Fatalf("before revocation: %v %+v", err, outs)
	}
	rev := c.adminInvoke(c.nodes[2], "delegation.revoke", nil, invocation.Arg{Name: "link", Value: link.Hash().String()})
	for i, tn := range c.nodes {
		// A stale read at the revocation's commit shows it on every node.
		ls, err := c.client.Delegation(context.Background(), tn.apiAddr, link.Hash().String(), client.Read{Consistency: "stale", MinIndex: c.status(c.leader()).CommitIndex})
		if err != nil || !ls.Revoked {
			t.Fatalf("%s: %+v %v", tn.id, ls, err)
		}
		inv := userCreate(fmt.Sprintf("after%d", i), "")
		inv.Chain = [][]byte{token(t, link)}
		outs, err := c.invoke(tn, bot, inv)
		if err != nil || outs[0].Decision != "deny" {
			t.Fatalf("after revocation via %s: %v %+v", tn.id, err, outs)
		}
	}
	_ = rev
}

func TestClusterLinearizableReadAfterWrite(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 20; i++ {
		w, r := c.nodes[i%3], c.nodes[(i+1)%3]
		outs, err := c.invoke(w, nil, userCreate(fmt.Sprintf("lin%d", i), ""))
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.client.LedgerStatus(context.Background(), r.apiAddr, client.Read{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Size <= outs[0].LedgerIndex {
			t.Fatalf("read on %s after write on %s: size %d, write at %d", r.id, w.id, st.Size, outs[0].LedgerIndex)
		}
		page, err := c.client.LedgerQuery(context.Background(), r.apiAddr, url.Values{"correlation_id": {fmt.Sprintf("lin%d", i)}}, client.Read{})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("query: %v %+v", err, page)
		}
	}
}

// A follower whose state file was damaged while it was down moves the
// file aside, rebuilds from its snapshot and log, and converges.
func TestClusterRebuildsDamagedStateFile(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *cluster.Config) { cfg.SnapshotThreshold, cfg.TrailingLogs = 20, 5 })
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 40; i++ {
		c.invoke(c.nodes[i%3], nil, userCreate(fmt.Sprintf("d%d", i), ""))
	}
	f := c.followers()[0]
	if err := f.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.waitConverged()
	c.stop(f)
	path := filepath.Join(f.dir, "state.db")
	if err := os.Truncate(path, 16<<10); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	c.waitReady(f)
	st := c.waitConverged()
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 || st.Size < 40 {
		t.Fatalf("moved aside %v, size %d", aside, st.Size)
	}
}

// TestReadyOnlyWithOwnRecord: a joining node reports ready only once its
// own record is applied. Before, /readyz answered as soon as the node had
// a leader and had caught up, while its NodeJoined event was still to
// come: a reader that took ready as settled saw the ledger move right
// after (the fault-injection suite read a status and a verify on either
// side of that event).
func TestReadyOnlyWithOwnRecord(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	tn := &testNode{id: "n2", dir: t.TempDir(), raftAddr: "127.0.0.1:0", apiAddr: "127.0.0.1:0"}
	c.nodes = append(c.nodes, tn)
	c.start(tn, false)
	joined := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		joined <- tn.node.Join(ctx, []string{c.nodes[0].apiAddr})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for tn.node.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("n2 never became ready: %v", tn.node.Ready())
		}
		time.Sleep(time.Millisecond)
	}
	if rec, ok := tn.node.FSM().View().Nodes["n2"]; !ok || rec.KeyID != tn.node.KeyID() {
		t.Fatalf("n2 reported ready before its own record was applied (record %+v, present %v)", rec, ok)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
}
