package gossip

import (
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestMembersConvergeWithMetadata(t *testing.T) {
	gs := cluster(t, 3, 1, nil)
	joined := map[string]bool{}
	for len(joined) < 4 {
		select {
		case ev := <-gs[0].Events():
			if ev.Type == EventJoin {
				joined[ev.Member.NodeID] = true
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("join events for %v only", joined)
		}
	}
	gs[1].SetApplied(77)
	waitFor(t, 5*time.Second, "applied index to spread", func() bool {
		for _, g := range gs {
			if m, _ := g.Member("s2"); m.Applied != 77 {
				return false
			}
		}
		return true
	})
	for _, g := range gs {
		for _, want := range gs {
			m, ok := g.Member(want.NodeID())
			if !ok || m.Role != want.cfg.Role || m.RaftAddr != want.cfg.RaftAddr ||
				m.APIAddr != want.cfg.APIAddr || m.GossipAddr != want.Addr() {
				t.Fatalf("%s sees %s as %+v", g.NodeID(), want.NodeID(), m)
			}
		}
	}
	if e, _ := gs[0].Member("e1"); e.Role != RoleEdge || e.RaftAddr != "" {
		t.Fatalf("edge member %+v", e)
	}
}

func TestShutdownMemberBecomesDead(t *testing.T) {
	gs := cluster(t, 3, 0, nil)
	events := gs[0].Events()
	_ = gs[2].Shutdown()
	waitFor(t, 10*time.Second, "s3 dead on s1 and s2", func() bool {
		return memberState(gs[0], "s3") == StateDead && memberState(gs[1], "s3") == StateDead
	})
	// The failure shows as a leave event with state dead, after any
	// suspicion this node heard of.
	sawDead := false
	for !sawDead {
		select {
		case ev := <-events:
			if ev.Member.NodeID != "s3" {
				continue
			}
			switch {
			case ev.Type == EventLeave && ev.Member.State == StateDead:
				sawDead = true
			case ev.Type == EventLeave:
				t.Fatalf("unexpected leave event %+v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no dead event for s3")
		}
	}
}

func TestSuspectBeforeDead(t *testing.T) {
	// A long suspicion (about 3s) leaves time to observe it.
	slow := func(c *Config) { c.Timing.SuspicionMult = 30 }
	gs := cluster(t, 3, 0, slow)
	_ = gs[2].Shutdown()
	waitFor(t, 10*time.Second, "s3 suspect on s1", func() bool { return memberState(gs[0], "s3") == StateSuspect })
	waitFor(t, 20*time.Second, "s3 dead on s1", func() bool { return memberState(gs[0], "s3") == StateDead })
}

func TestLeaveMarksLeft(t *testing.T) {
	gs := cluster(t, 3, 0, nil)
	if err := gs[2].Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "s3 left on s1 and s2", func() bool {
		return memberState(gs[0], "s3") == StateLeft && memberState(gs[1], "s3") == StateLeft
	})
	// Still running after Leave, s3 must not come back through a metadata
	// change.
	gs[2].SetApplied(99)
	gs[0].SetApplied(5) // a later broadcast from s1, as a marker
	waitFor(t, 5*time.Second, "s1's marker on s2", func() bool { m, _ := gs[1].Member("s1"); return m.Applied == 5 })
	if st := memberState(gs[1], "s3"); st != StateLeft {
		t.Fatalf("s3 is %s after a post-leave metadata change", st)
	}
	_ = gs[2].Shutdown()
	if err := gs[2].Leave(time.Second); !errors.Is(err, ErrShutdown) {
		t.Fatalf("leave after shutdown: %v", err)
	}
}

func TestRestartedMemberRejoins(t *testing.T) {
	gs := cluster(t, 3, 0, nil)
	addr := gs[2].Addr()
	_ = gs[2].Shutdown()
	waitFor(t, 10*time.Second, "s3 dead", func() bool { return memberState(gs[0], "s3") == StateDead })
	deadSince, _ := gs[0].Member("s3")

	c := testConfig(t, "s3", RoleServer)
	c.BindAddr = addr
	var g3 *Gossip
	waitFor(t, 5*time.Second, "s3 to rebind its address", func() bool {
		g, err := New(c)
		if err != nil {
			return false
		}
		g3 = g
		return true
	})
	t.Cleanup(func() { _ = g3.Shutdown() })
	if _, err := g3.Join([]string{gs[0].Addr()}); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, []*Gossip{gs[0], gs[1], g3})
	if m, _ := gs[0].Member("s3"); !m.Since.After(deadSince.Since) {
		t.Fatalf("rejoined member since %v, died %v", m.Since, deadSince.Since)
	}
}

func TestEncryptionKeyMismatchKeepsNodesApart(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	ca := testConfig(t, "a", RoleServer)
	ca.SecretKey = k1
	cb := testConfig(t, "b", RoleServer)
	cb.SecretKey = k2
	cc := testConfig(t, "c", RoleServer)
	cc.SecretKey = k1
	cd := testConfig(t, "d", RoleServer) // no key at all
	a, b, c, d := start(t, ca), start(t, cb), start(t, cc), start(t, cd)

	if _, err := b.Join([]string{a.Addr()}); !errors.Is(err, ErrJoin) {
		t.Fatalf("join with the wrong key: %v", err)
	}
	if _, err := d.Join([]string{a.Addr()}); !errors.Is(err, ErrJoin) {
		t.Fatalf("join without a key: %v", err)
	}
	if _, err := c.Join([]string{a.Addr()}); err != nil {
		t.Fatalf("join with the right key: %v", err)
	}
	waitConverged(t, []*Gossip{a, c})
	want := map[*Gossip][]string{a: {"a", "c"}, b: {"b"}, c: {"a", "c"}, d: {"d"}}
	for g, ids := range want {
		var got []string
		for _, m := range g.Members() {
			got = append(got, m.NodeID)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("%s sees %v, want %v", g.NodeID(), got, ids)
		}
	}
}

func TestJoinFailureAndShutdown(t *testing.T) {
	g := start(t, testConfig(t, "solo", RoleEdge))
	if _, err := g.Join([]string{"127.0.0.1:1"}); !errors.Is(err, ErrJoin) {
		t.Fatalf("join nowhere: %v", err)
	}
	if err := g.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	for range g.Events() { // drains, then ends because Shutdown closed it
	}
	if _, err := g.Join([]string{"127.0.0.1:1"}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("join after shutdown: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	c := testConfig(t, "x", RoleServer)
	c.SecretKey = []byte("short")
	if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New: %v", err)
	}
}

// TestReconcileOverLiveMembers feeds live gossip membership to Reconcile:
// a server outside the configuration is added, and a dead voter whose
// removal would leave no quorum is kept.
func TestReconcileOverLiveMembers(t *testing.T) {
	gs := cluster(t, 3, 1, nil)
	for _, g := range gs[:3] {
		g.SetApplied(100)
	}
	cfg := RaftConfig{Servers: []RaftServer{
		{ID: "s1", Addr: gs[0].cfg.RaftAddr, Suffrage: Voter},
		{ID: "s2", Addr: gs[1].cfg.RaftAddr, Suffrage: Voter},
	}, LeaderID: "s1", CommitIndex: 100}
	var st State
	now := time.Unix(1_700_000_000, 0)
	acts := Reconcile(cfg, gs[0].Members(), &st, now, testPolicy)
	if len(acts) != 1 || acts[0].Kind != ActionAddNonvoter || acts[0].ID != "s3" || acts[0].Addr != gs[2].cfg.RaftAddr {
		t.Fatalf("actions %+v, want add_nonvoter s3", acts)
	}
	cfg.Servers = append(cfg.Servers, RaftServer{ID: "s3", Addr: gs[2].cfg.RaftAddr, Suffrage: Nonvoter})
	_ = gs[1].Shutdown()
	waitFor(t, 10*time.Second, "s2 dead", func() bool { return memberState(gs[0], "s2") == StateDead })
	waitFor(t, 5*time.Second, "s3 applied index", func() bool { m, _ := gs[0].Member("s3"); return m.Applied == 100 })
	Reconcile(cfg, gs[0].Members(), &st, now.Add(time.Second), testPolicy)
	acts = Reconcile(cfg, gs[0].Members(), &st, now.Add(time.Hour), testPolicy)
	if len(acts) != 1 || acts[0].Kind != ActionPromote || acts[0].ID != "s3" {
		t.Fatalf("actions %+v, want only promote s3 (removing s2 would break quorum)", acts)
	}
}
