package cluster_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Node behaviour, moved from httpapi's cluster tests to the in-memory
// cluster; the assertions are the same, read from the node instead of
// its API.

// ackedAll checks that every acknowledged correlation id is in the
// leader's ledger exactly once.
func ackedAll(t *testing.T, c *testcluster.Cluster, acked map[string]uint64) {
	t.Helper()
	l := c.WaitLeader()
	if _, err := c.Head(l); err != nil { // a linearizable read
		t.Fatal(err)
	}
	seen := map[string]int{}
	q := ledger.Query{Limit: 1000}
	for {
		page, err := l.Node().Store().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Correlation != "" {
				seen[e.Correlation]++
			}
		}
		if !page.More {
			break
		}
		q.Start = page.Next
	}
	for id, idx := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged %s (ledger index %d) appears %d times", id, idx, seen[id])
		}
	}
}

func TestClusterLeaderLossLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	var mu sync.Mutex
	acked := map[string]uint64{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				tn := c.Node((w + i) % 3)
				if !tn.Running() {
					continue
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				outs, err := c.Invoke(tn, nil, userCreate(name, ""))
				if err == nil && outs[0].Result.Allowed() {
					mu.Lock()
					acked[name] = outs[0].Result.LedgerIndex
					mu.Unlock()
				}
			}
		}()
	}
	testcluster.WaitFor(t, "some writes", 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 20 {
			return fmt.Errorf("%d acked", len(acked))
		}
		return nil
	})
	old := c.Leader()
	c.Stop(old)
	l := c.WaitLeader()
	if l == old {
		t.Fatal("no new leader")
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	testcluster.WaitFor(t, "writes under the new leader", 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < before+20 {
			return fmt.Errorf("%d acked", len(acked))
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	c.Restart(old)
	c.WaitReady(old)
	ackedAll(t, c, acked)
	c.WaitConverged()
}

func TestClusterRequestIDDedupAcrossLeaderChange(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	first, err := c.Invoke(c.Followers()[0], nil, userCreate("dedup", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	old := c.Leader()
	c.Stop(old)
	c.WaitLeader()
	again, err := c.Invoke(c.Leader(), nil, userCreate("dedup", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Result.Duplicate || again[0].Result.LedgerIndex != first[0].Result.LedgerIndex ||
		again[0].Answer == nil || !bytes.Equal(again[0].Answer.Event, first[0].Answer.Event) {
		t.Fatalf("repeat: %+v\nfirst: %+v", again[0], first[0])
	}
	// Both answers prove the one event, each under its leader's head.
	for _, o := range []cluster.Outcome{first[0], again[0]} {
		if _, err := cert.Check(o.Answer, c.Trust()); err != nil {
			t.Fatalf("answer from %s: %v", o.Answer.Signer, err)
		}
	}
	if first[0].Answer.Signer == again[0].Answer.Signer {
		t.Fatalf("both answers signed by %s", first[0].Answer.Signer)
	}
	_, err = c.Invoke(c.Leader(), nil, userCreate("different", "req-1"))
	var ce *cnverr.Error
	if !errors.As(err, &ce) || ce.Kind != cnverr.Conflict || cnverr.HTTPStatus(ce.Kind) != 409 {
		t.Fatalf("reused request id with another body: %v", err)
	}
}

// linkState is a delegation link's state on n after a read at cons.
func linkState(t *testing.T, c *testcluster.Cluster, n *testcluster.Node, h delegation.Hash, cons cluster.Consistency, minIndex uint64) (bool, uint64, error) {
	t.Helper()
	if _, err := c.Read(n, cons, minIndex); err != nil {
		return false, 0, err
	}
	st, found, err := n.Node().FSM().LinkStateOf(h)
	if err == nil && !found {
		err = fmt.Errorf("delegation link %s has no recorded use or revocation", h)
	}
	return st.Revoked, st.Uses, err
}

func TestClusterMaxUsesExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	bot := c.Register(c.Leader(), "bot", principal.Agent, principal.DefaultTenant)
	link := c.Grant(bot.Public().(ed25519.PublicKey), 10, time.Now().Add(time.Hour), "user.*")
	tok := c.Token(link)
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 30; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv := userCreate(fmt.Sprintf("m%d", w), "")
			inv.Chain = [][]byte{tok}
			outs, err := c.Invoke(c.Node(w%3), bot, inv)
			if err != nil {
				t.Errorf("invoke: %v", err)
				return
			}
			if outs[0].Result.Allowed() {
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
	for _, tn := range c.Nodes() {
		_, uses, err := linkState(t, c, tn, link.Hash(), cluster.Linearizable, 0)
		if err != nil || uses != 10 {
			t.Fatalf("%s link uses %d %v", tn.ID, uses, err)
		}
	}
}

func TestClusterRevocationEffectiveEverywhere(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	bot := c.Register(c.Leader(), "bot", principal.Agent, principal.DefaultTenant)
	link := c.Grant(bot.Public().(ed25519.PublicKey), 0, time.Now().Add(time.Hour), "user.*")
	inv := userCreate("before", "")
	inv.Chain = [][]byte{c.Token(link)}
	if outs, err := c.Invoke(c.Node(1), bot, inv); err != nil || !outs[0].Result.Allowed() {
		t.Fatalf("before revocation: %v %+v", err, outs)
	}
	c.AdminInvoke(c.Node(2), "delegation.revoke", nil, invocation.Arg{Name: "link", Value: link.Hash().String()})
	for i, tn := range c.Nodes() {
		// A stale read at the revocation's commit shows it on every node.
		revoked, _, err := linkState(t, c, tn, link.Hash(), cluster.Stale, c.Leader().Node().Status().CommitIndex)
		if err != nil || !revoked {
			t.Fatalf("%s: revoked %v %v", tn.ID, revoked, err)
		}
		inv := userCreate(fmt.Sprintf("after%d", i), "")
		inv.Chain = [][]byte{c.Token(link)}
		outs, err := c.Invoke(tn, bot, inv)
		if err != nil || outs[0].Result.Decision != "deny" {
			t.Fatalf("after revocation via %s: %v %+v", tn.ID, err, outs)
		}
	}
}

func TestClusterLinearizableReadAfterWrite(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 20; i++ {
		w, r := c.Node(i%3), c.Node((i+1)%3)
		outs, err := c.Invoke(w, nil, userCreate(fmt.Sprintf("lin%d", i), ""))
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Head(r)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size <= outs[0].Result.LedgerIndex {
			t.Fatalf("read on %s after write on %s: size %d, write at %d", r.ID, w.ID, st.Size, outs[0].Result.LedgerIndex)
		}
		if _, err := c.Read(r, cluster.Linearizable, 0); err != nil {
			t.Fatal(err)
		}
		page, err := r.Node().Store().Query(ledger.Query{Correlation: fmt.Sprintf("lin%d", i)})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("query: %v %+v", err, page)
		}
	}
}

// A follower whose state file was damaged while it was down moves the
// file aside, rebuilds from its snapshot and log, and converges.
func TestClusterRebuildsDamagedStateFile(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{Tune: func(_ *testcluster.Node, cfg *cluster.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 20, 5
	}})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	for i := 0; i < 40; i++ {
		c.Invoke(c.Node(i%3), nil, userCreate(fmt.Sprintf("d%d", i), ""))
	}
	f := c.Followers()[0]
	if err := f.Node().Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	c.Stop(f)
	path := filepath.Join(f.Dir, "state.db")
	if err := os.Truncate(path, 16<<10); err != nil {
		t.Fatal(err)
	}
	c.Restart(f)
	c.WaitReady(f)
	st := c.WaitConverged()
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
	t.Parallel()
	c := testcluster.New(t, 1, testcluster.Options{})
	tn := c.NewNode()
	joined := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		joined <- tn.Node().Join(ctx, []string{c.Node(0).APIAddr()})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for tn.Node().Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("n2 never became ready: %v", tn.Node().Ready())
		}
		time.Sleep(time.Millisecond)
	}
	if rec, ok := tn.Node().FSM().View().Nodes["n2"]; !ok || rec.KeyID != tn.Node().KeyID() {
		t.Fatalf("n2 reported ready before its own record was applied (record %+v, present %v)", rec, ok)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
}

// TestInvokeRejectsBadInput sends every kind of bad batch the node itself
// judges (signatures, keys, capabilities, chains, request ids) to a
// follower and to the leader: each is refused with its kind (a 4xx over
// the API), every node stays up and the ledger does not change. The API's
// own decoding is httpapi's TestBadInputDecoding.
func TestInvokeRejectsBadInput(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(testCaps))
	bot := c.Register(c.Leader(), "bot", principal.Agent, principal.DefaultTenant)
	botPub := bot.Public().(ed25519.PublicKey)
	before := c.WaitConverged()

	var seq int
	sign := func(key ed25519.PrivateKey, inv invocation.Invocation) *invocation.Signed {
		if inv.RequestID == "" {
			seq++
			inv.RequestID = fmt.Sprintf("bad-%d", seq)
		}
		s, err := invocation.Sign(key, []invocation.Invocation{inv})
		if err != nil {
			t.Fatal(err)
		}
		return &s
	}
	forged := sign(c.Admin(), userCreate("x", "forged-1"))
	forged.Signature[0] ^= 0xff
	unsigned := sign(c.Admin(), userCreate("x", "unsigned-1"))
	unsigned.Signature = nil
	_, stranger, _ := principal.Generate(nil)
	expired := c.Grant(botPub, 0, time.Now().Add(-time.Second), "user.*")
	// A widened child: the bot re-delegates more than it was given.
	root := c.Grant(botPub, 5, time.Now().Add(time.Hour), "user.read")
	_, carolPriv, _ := principal.Generate(nil)
	wide, _ := delegation.NewConstraints([]string{"**"}, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
	body := root.Body()
	carolPub := carolPriv.Public().(ed25519.PublicKey)
	childBody := delegation.Body{Version: delegation.Version, Nonce: make([]byte, delegation.NonceSize), Issuer: botPub,
		IssuerID: principal.IDOf(botPub), Audience: carolPub, AudienceID: principal.IDOf(carolPub),
		Constraints: wide, NotBefore: body.NotBefore, NotAfter: body.NotAfter, MaxUses: 50, Parent: root.Hash(), Depth: 1}
	child, err := delegation.Sign(childBody, bot)
	if err != nil {
		t.Fatal(err)
	}
	withChain := func(key ed25519.PrivateKey, links ...delegation.Link) *invocation.Signed {
		inv := userCreate("chained", "")
		for _, l := range links {
			inv.Chain = append(inv.Chain, c.Token(l))
		}
		return sign(key, inv)
	}
	cases := []struct {
		name string
		s    *invocation.Signed
		kind cnverr.Kind // "": any 4xx kind
	}{
		{"unknown capability", sign(c.Admin(), invocation.Invocation{Capability: "nope.missing"}), cnverr.CommandNotFound},
		{"forged signature", forged, cnverr.Unauthenticated},
		{"missing signature", unsigned, cnverr.Unauthenticated},
		{"unregistered key", sign(stranger, userCreate("x", "")), cnverr.Unauthenticated},
		{"widened chain", withChain(carolPriv, root, child), ""},
	}
	for _, tc := range cases {
		for _, tn := range []*testcluster.Node{c.Followers()[0], c.Leader()} {
			_, err := c.InvokeSigned(tn, tc.s)
			var ce *cnverr.Error
			if !errors.As(err, &ce) {
				t.Errorf("%s via %s: %v, want a structured error", tc.name, tn.ID, err)
				continue
			}
			if status := cnverr.HTTPStatus(ce.Kind); status < 400 || status >= 500 || tc.kind != "" && ce.Kind != tc.kind {
				t.Errorf("%s via %s: %v (%s, status %d); want %s", tc.name, tn.ID, err, ce.Kind, status, tc.kind)
			}
		}
	}
	// A link outside its window is decided at the committed time and
	// ledgered as a denial, never refused before Raft by a node's clock.
	for _, tn := range []*testcluster.Node{c.Followers()[0], c.Leader()} {
		outs, err := c.InvokeSigned(tn, withChain(bot, expired))
		if err != nil || len(outs) != 1 || outs[0].Result.Decision != "deny" || !strings.Contains(outs[0].Result.Reason, "expired") {
			t.Fatalf("expired chain via %s: %+v %v", tn.ID, outs, err)
		}
	}
	// A reused request id with a different body is a conflict.
	c.AdminInvoke(c.Leader(), "user.create", nil, invocation.Arg{Name: "name", Value: "first"})
	if _, err := c.Invoke(c.Node(0), nil, userCreate("one", "same-id")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(c.Node(1), nil, userCreate("two", "same-id"))
	var ce *cnverr.Error
	if !errors.As(err, &ce) || ce.Kind != cnverr.Conflict {
		t.Fatalf("reused request id: %v", err)
	}
	// Every node is still up, and only the two expired-chain denials and
	// the two good invocations above reached the ledger.
	after := c.WaitConverged()
	if after.Size != before.Size+4 {
		t.Fatalf("ledger grew from %d to %d; want +4", before.Size, after.Size)
	}
	for _, tn := range c.Nodes() {
		if err := tn.Node().Ready(); err != nil {
			t.Fatalf("%s not ready: %v", tn.ID, err)
		}
	}
}
