package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/fsm"
	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/cert/certtest"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

func TestSessionOnEveryNode(t *testing.T) {
	c, bot := setup(t, 3, nil)
	adminCert := c.certify(c.Node(1), c.Admin(), "hot.echo")
	link := c.grant(bot.Public().(ed25519.PublicKey), 1000, time.Now().Add(time.Hour))
	botCert := c.certify(c.Node(2), bot, "hot.counter", link)
	for _, tn := range c.Nodes() {
		_, s, err := c.open(tn, c.Admin(), adminCert)
		if err != nil {
			t.Fatalf("%s: open (no chain): %v", tn.ID, err)
		}
		out, err := s.Invoke(context.Background(), []byte("hi "+tn.ID))
		if err != nil || string(out) != "hi "+tn.ID {
			t.Fatalf("%s: echo %q %v", tn.ID, out, err)
		}
		_, s2, err := c.open(tn, bot, botCert)
		if err != nil {
			t.Fatalf("%s: open (leased chain): %v", tn.ID, err)
		}
		if _, err := s2.Invoke(context.Background(), []byte("2")); err != nil {
			t.Fatalf("%s: counter: %v", tn.ID, err)
		}
		// One live session per certificate per node.
		if _, _, err := c.open(tn, c.Admin(), adminCert); !errors.Is(err, proto.ErrSessionExists) {
			t.Fatalf("%s: second session: %v", tn.ID, err)
		}
		for _, x := range []*hotclient.Session{s, s2} {
			if _, err := x.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every lease was settled: the link counts the certificate's invocation
	// and the three counter invocations, nothing more.
	testcluster.WaitFor(t, "leases settled", 10*time.Second, func() error {
		st, _, err := c.Node(0).Node().FSM().LinkStateOf(link.Hash())
		if n, _ := c.Node(0).Node().FSM().HotLeasesOpen(); err != nil || st.Uses != 4 || n != 0 {
			return fmt.Errorf("uses %d, open leases %d, %v", st.Uses, n, err)
		}
		return nil
	})
}

// shiftClock is a clock the test moves.
type shiftClock struct{ off atomic.Int64 }

func (s *shiftClock) Now() time.Time { return time.Now().Add(time.Duration(s.off.Load())) }

func TestRefusedCertificates(t *testing.T) {
	clk := &shiftClock{}
	c, bot := setup(t, 2, func(sc *ServiceConfig) { sc.Clock = clk })
	link := c.grant(bot.Public().(ed25519.PublicKey), 0, time.Now().Add(time.Hour))
	cert := c.certify(c.Leader(), bot, "hot.echo", link)
	tn := c.Node(1)

	var signed certificate.Answer
	if err := json.Unmarshal(cert, &signed); err != nil {
		t.Fatal(err)
	}
	signed.Signature[3] ^= 1
	forged, _ := json.Marshal(signed)
	if _, _, err := c.open(tn, bot, forged); !errors.Is(err, certificate.ErrBadSignature) {
		t.Fatalf("forged signature: %v", err)
	}
	if _, _, err := c.open(tn, bot, selfSigned(t, bot)); !errors.Is(err, certificate.ErrUntrustedSigner) {
		t.Fatalf("signed by a key outside the cluster: %v", err)
	}
	if _, _, err := c.open(tn, c.Admin(), cert); !errors.Is(err, proto.ErrWrongHolder) {
		t.Fatalf("presented by another key: %v", err)
	}
	clk.off.Store(int64(2 * time.Hour))
	if _, _, err := c.open(tn, bot, cert); !errors.Is(err, certificate.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	clk.off.Store(0)

	// Revoked while a session is open on each node: every session ends
	// within the watch bound of the revocation applying there.
	var sessions []*hotclient.Session
	for _, n := range c.Nodes() {
		_, s, err := c.open(n, bot, cert)
		if err != nil {
			t.Fatalf("%s: %v", n.ID, err)
		}
		sessions = append(sessions, s)
	}
	c.AdminInvokeAPI(c.Leader(), "delegation.revoke", nil, invocation.Arg{Name: "link", Value: link.Hash().String()})
	revokedAt := time.Now()
	for i, s := range sessions {
		testcluster.WaitFor(t, "session ended by the revocation", 5*time.Second, func() error {
			if _, err := s.Invoke(context.Background(), []byte("x")); !errors.Is(err, proto.ErrRevoked) {
				return fmt.Errorf("invoke after revocation: %v", err)
			}
			return nil
		})
		t.Logf("%s: session ended %v after the revocation committed", c.Node(i).ID, time.Since(revokedAt))
	}
	if _, _, err := c.open(tn, bot, cert); !errors.Is(err, proto.ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
}

// selfSigned is a well-formed certificate for hot.echo signed by a key the
// cluster does not know.
func selfSigned(t *testing.T, holder ed25519.PrivateKey) []byte {
	_, priv, _ := principal.Generate(nil)
	return certtest.JSON(certtest.Spec{Capability: server.EchoPath, Effects: capability.Effects{capability.ReadOnly},
		Holder: holder.Public().(ed25519.PublicKey), Time: time.Now().UnixNano()}, priv)
}

// drain invokes on s until the quota stays exhausted and returns how many
// invocations succeeded. It stops early when stop closes.
func drain(s *hotclient.Session, stop <-chan struct{}) (ok int, err error) {
	return drainPaced(s, stop, 0)
}

// drainPaced is drain with a pause after each invocation.
func drainPaced(s *hotclient.Session, stop <-chan struct{}, pause time.Duration) (ok int, err error) {
	dry := 0
	for dry < 100 {
		select {
		case <-stop:
			return ok, nil
		case <-time.After(pause):
		}
		_, err := s.Invoke(context.Background(), []byte("1"))
		switch {
		case err == nil:
			ok, dry = ok+1, 0
		case errors.Is(err, hotpath.ErrQuotaExhausted):
			dry++
			time.Sleep(2 * time.Millisecond)
		default:
			return ok, err
		}
	}
	return ok, nil
}

func TestLeasesExactAcrossNodes(t *testing.T) {
	const max = 150
	c, bot := setup(t, 3, nil)
	link := c.grant(bot.Public().(ed25519.PublicKey), max, time.Now().Add(time.Hour))
	cert := c.certify(c.Leader(), bot, "hot.counter", link)
	var total atomic.Int64
	var wg sync.WaitGroup
	sessions := make([]*hotclient.Session, len(c.Nodes()))
	for i, tn := range c.Nodes() { // every node leases its first block before any spends
		var err error
		if _, sessions[i], err = c.open(tn, bot, cert); err != nil {
			t.Fatalf("%s: %v", tn.ID, err)
		}
	}
	for i, tn := range c.Nodes() {
		s := sessions[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := drain(s, nil)
			if err != nil {
				t.Errorf("%s: %v", tn.ID, err)
			}
			total.Add(int64(n))
			s.Close(context.Background())
		}()
	}
	wg.Wait()
	// Every use was spent (the certificate's invocation took one) and
	// every lease settled: the link counts exactly the uses made.
	if total.Load() != max-1 {
		t.Fatalf("%d hot-path uses, want %d", total.Load(), max-1)
	}
	testcluster.WaitFor(t, "leases settled", 10*time.Second, func() error {
		st, _, _ := c.Leader().Node().FSM().LinkStateOf(link.Hash())
		if n, _ := c.Leader().Node().FSM().HotLeasesOpen(); st.Uses != max || n != 0 {
			return fmt.Errorf("uses %d, open leases %d", st.Uses, n)
		}
		return nil
	})
}

func TestLeasesNeverOvershootWithNodeKilled(t *testing.T) {
	const max = 400
	c, bot := setup(t, 3, nil)
	link := c.grant(bot.Public().(ed25519.PublicKey), max, time.Now().Add(time.Hour))
	cert := c.certify(c.Leader(), bot, "hot.counter", link)
	victim := c.Node(0)
	if victim == c.Leader() {
		victim = c.Node(1)
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	stopVictim := make(chan struct{})
	var survivors atomic.Int64
	sessions := make([]*hotclient.Session, len(c.Nodes()))
	for i, tn := range c.Nodes() {
		var err error
		if _, sessions[i], err = c.open(tn, bot, cert); err != nil {
			t.Fatalf("%s: %v", tn.ID, err)
		}
	}
	for i, tn := range c.Nodes() {
		s := sessions[i]
		var stop <-chan struct{}
		var pause time.Duration
		if tn == victim { // slow, so it holds unspent uses when killed
			stop, pause = stopVictim, time.Millisecond
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, _ := drainPaced(s, stop, pause) // the victim's session dies with it
			total.Add(int64(n))
			if tn != victim {
				survivors.Add(int64(n))
			}
		}()
	}
	// Kill the victim while it holds a lease (mid-run).
	testcluster.WaitFor(t, "uses charged", 20*time.Second, func() error {
		st, _, _ := c.Leader().Node().FSM().LinkStateOf(link.Hash())
		if st.Uses < max/3 {
			return fmt.Errorf("uses %d", st.Uses)
		}
		return nil
	})
	c.Crash(victim)
	close(stopVictim)
	wg.Wait()
	st, _, _ := c.Leader().Node().FSM().LinkStateOf(link.Hash())
	held := heldByCrashed(t, c, victim.ID)
	t.Logf("hot-path uses %d, link uses %d of %d, leased to the killed node in all: %d", total.Load(), st.Uses, max, held)
	if st.Uses > max || uint64(total.Load())+1 > st.Uses {
		t.Fatalf("overshoot: %d uses answered, link charged %d, max %d", total.Load(), st.Uses, max)
	}
	if victimSpent := uint64(total.Load() - survivors.Load()); victimSpent >= held {
		t.Fatalf("the killed node spent all %d it leased: not killed mid-lease", held)
	}
	// The survivors drained the budget; the killed node's leases stay
	// charged in full, so the count is exact: nothing lost, nothing twice.
	if want := 1 + uint64(survivors.Load()) + held; st.Uses != want {
		t.Fatalf("link charged %d, want 1 + %d spent by survivors + %d held by the killed node", st.Uses, survivors.Load(), held)
	}
}

// heldByCrashed sums what the node leased, from the leader's ledger, and
// checks that it settled none of it.
func heldByCrashed(t *testing.T, c *hotCluster, node string) uint64 {
	var leased uint64
	settled := map[string]bool{}
	forEachEvent(t, c.Leader(), func(ev event.Event) {
		if p, ok := ev.Data.(event.HotPathLease); ok && p.NodeID == node {
			if p.Op == event.LeaseGranted {
				leased += p.Uses
			} else {
				settled[p.Lease] = true
			}
		}
	})
	if len(settled) > 0 {
		t.Fatalf("the killed node settled %d leases: it was not killed mid-lease", len(settled))
	}
	return leased
}

func forEachEvent(t *testing.T, tn *testcluster.Node, fn func(event.Event)) {
	t.Helper()
	store := tn.Node().Store()
	for i := uint64(0); i < store.Head().Size; i++ {
		ev, err := store.Event(i)
		if err != nil {
			t.Fatal(err)
		}
		fn(ev)
	}
}

func TestHotPathBatchesLedgeredAndVerified(t *testing.T) {
	c, bot := setup(t, 3, nil)
	link := c.grant(bot.Public().(ed25519.PublicKey), 0, time.Now().Add(time.Hour))
	cert := c.certify(c.Leader(), bot, "hot.echo", link)
	const per = 120
	for _, tn := range c.Nodes() {
		_, s, err := c.open(tn, bot, cert)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < per; i++ {
			if _, err := s.Invoke(context.Background(), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			if i == per/2 {
				time.Sleep(60 * time.Millisecond) // let a flush cut the session mid-way
			}
		}
		if _, err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]uint64{"n1": per, "n2": per, "n3": per}
	testcluster.WaitFor(t, "every invocation ledgered", 10*time.Second, func() error {
		got := map[string]uint64{}
		forEachEvent(t, c.Leader(), func(ev event.Event) {
			if b, ok := ev.Data.(event.HotPathBatch); ok {
				got[b.NodeID] += b.Total
			}
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("ledgered %v, want %v", got, want)
		}
		return nil
	})
	checkSessionChains(t, c.Leader(), 3)
	c.WaitConverged()
	for _, tn := range c.Nodes() {
		rep, err := tn.Node().Store().Verify(ledger.VerifyOptions{})
		if err != nil || !rep.OK {
			t.Fatalf("%s verify: %+v %v", tn.ID, rep, err)
		}
	}
}

// checkSessionChains checks that each node's session batches for the
// certificate chain digest to digest, are numbered 1, 2, ... and end final.
func checkSessionChains(t *testing.T, tn *testcluster.Node, nodes int) {
	type chainState struct {
		number uint64
		digest string
		final  bool
	}
	chains := map[string]*chainState{}
	forEachEvent(t, tn, func(ev event.Event) {
		b, ok := ev.Data.(event.HotPathBatch)
		if !ok {
			return
		}
		for _, s := range b.Sessions {
			cs := chains[b.NodeID+"/"+s.Certificate]
			if cs == nil {
				cs = &chainState{digest: s.Prev}
				chains[b.NodeID+"/"+s.Certificate] = cs
			}
			if s.Prev != cs.digest || s.Number <= cs.number || cs.final {
				t.Fatalf("%s: batch %d breaks the chain (prev %s, want %s)", b.NodeID, s.Number, s.Prev, cs.digest)
			}
			cs.number, cs.digest, cs.final = s.Number, s.Digest, s.Final
		}
	})
	if len(chains) != nodes {
		t.Fatalf("%d session chains, want %d", len(chains), nodes)
	}
	for k, cs := range chains {
		if !cs.final || cs.number < 2 {
			t.Fatalf("%s: %d batches, final %v", k, cs.number, cs.final)
		}
	}
}

var _ clock.Clock = (*shiftClock)(nil)

// TestRestartReleasesStaleLeases kills a node holding a lease and restarts
// it: the new run releases the old run's lease record, and its uses stay
// charged.
func TestRestartReleasesStaleLeases(t *testing.T) {
	c, bot := setup(t, 3, func(sc *ServiceConfig) { sc.Authority.StaleLeaseInterval = 200 * time.Millisecond })
	link := c.grant(bot.Public().(ed25519.PublicKey), 100, time.Now().Add(time.Hour))
	cert := c.certify(c.Leader(), bot, "hot.counter", link)
	victim := c.Node(0)
	if victim == c.Leader() {
		victim = c.Node(1)
	}
	_, s, err := c.open(victim, bot, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invoke(context.Background(), []byte("1")); err != nil {
		t.Fatal(err)
	}
	fsmOf := func() *fsm.FSM { return c.WaitLeader().Node().FSM() } // a leader may be between elections
	if n, _ := fsmOf().HotLeasesOpen(); n != 1 {
		t.Fatalf("%d leases open", n)
	}
	before, _, _ := fsmOf().LinkStateOf(link.Hash())
	c.Crash(victim)
	c.Restart(victim)
	testcluster.WaitFor(t, "stale lease released", 20*time.Second, func() error {
		if n, _ := fsmOf().HotLeasesOpen(); n != 0 {
			return fmt.Errorf("%d leases open", n)
		}
		return nil
	})
	if after, _, _ := fsmOf().LinkStateOf(link.Hash()); after.Uses != before.Uses {
		t.Fatalf("uses %d after the release, %d before: a dead run's lease must stay charged", after.Uses, before.Uses)
	}
}
