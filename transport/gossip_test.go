package transport

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/transport/client"
)

// gossipTune turns gossip on with loopback timing and a short autopilot.
func gossipTune(cfg *cluster.Config) {
	cfg.Gossip = &cluster.GossipConfig{
		BindAddr: "127.0.0.1:0", Timing: gossip.FastTiming(),
		Autopilot: gossip.Policy{MaxLag: 100, StabilizationTime: 500 * time.Millisecond, DeadServerTimeout: 2 * time.Second},
		Fetch:     GraphFetcher(client.New(client.Options{Timeout: 5 * time.Second})),
	}
}

// newGossipCluster starts n servers with gossip; joiners also join the
// gossip pool through the first node.
func newGossipCluster(t *testing.T, n int) *testCluster {
	c := newTestCluster(t, 1, gossipTune)
	for i := 1; i < n; i++ {
		c.addGossip()
	}
	c.waitVoters(n)
	return c
}

func (c *testCluster) addGossip() *testNode {
	tn := c.add(false)
	if _, err := tn.node.JoinGossip([]string{c.nodes[0].node.Gossip().Addr()}); err != nil {
		c.t.Fatal(err)
	}
	c.waitReady(tn)
	return tn
}

// waitVoters waits until the leader's configuration has n voters, all
// alive in gossip.
func (c *testCluster) waitVoters(n int) {
	waitFor(c.t, fmt.Sprintf("%d voters alive in gossip", n), 30*time.Second, func() error {
		l := c.leader()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		ms, err := l.node.Members()
		if err != nil {
			return err
		}
		voters := 0
		for _, m := range ms {
			if m.Raft == "voter" && m.Gossip == "alive" {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d alive voters: %+v", voters, ms)
		}
		return nil
	})
}

func memberState(tn *testNode, id string) (raftState, gossipState string) {
	ms, _ := tn.node.Members()
	for _, m := range ms {
		if m.NodeID == id {
			return m.Raft, m.Gossip
		}
	}
	return "absent", "absent"
}

// New servers join as non-voters and are promoted; a stopped server goes
// dead in gossip and is removed while a quorum remains, never beyond; a
// restarted server rejoins.
func TestGossipAutopilot(t *testing.T) {
	c := newGossipCluster(t, 4)
	l := c.leader()
	var victim *testNode
	for _, tn := range c.followers() {
		victim = tn
		break
	}
	c.stop(victim)
	waitFor(t, victim.id+" dead and removed", 30*time.Second, func() error {
		r, g := memberState(l, victim.id)
		if r != "none" || (g != "dead" && g != "suspect" && g != "left") {
			return fmt.Errorf("%s: raft %s gossip %s", victim.id, r, g)
		}
		return nil
	})
	// Two more down out of three voters: no removal may leave the
	// configuration without a quorum, and none happens.
	fs := c.followers()
	for _, tn := range fs {
		if tn != victim && tn.node != nil {
			c.stop(tn)
		}
	}
	time.Sleep(3 * time.Second) // longer than DeadServerTimeout: a removal would have happened
	for _, tn := range fs {
		if tn == victim {
			continue
		}
		if r, _ := memberState(l, tn.id); r == "none" || r == "absent" {
			t.Fatalf("%s removed without a quorum", tn.id)
		}
	}
	for _, tn := range fs {
		if tn != victim {
			c.restart(tn)
		}
	}
	c.waitLeader()
	c.waitVoters(3)
}

// A capability registered on the leader reaches every server's and an
// edge node's graph snapshot, with the same hash everywhere.
func TestGossipGraphPropagation(t *testing.T) {
	c := newGossipCluster(t, 3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(client.Options{Timeout: 5 * time.Second})
	g, err := gossip.New(gossip.Config{NodeID: "e1", Role: gossip.RoleEdge, BindAddr: "127.0.0.1:0",
		APIAddr: ln.Addr().String(), Timing: gossip.FastTiming(), Fetch: GraphFetcher(cl)})
	if err != nil {
		t.Fatal(err)
	}
	edge := NewEdgeServer(EdgeConfig{NodeID: "e1", Gossip: g, Client: cl})
	go edge.Serve(ln)
	t.Cleanup(func() { edge.Shutdown(context.Background()); g.Shutdown() })
	if _, err := g.Join([]string{c.nodes[1].node.Gossip().Addr()}); err != nil {
		t.Fatal(err)
	}
	out := c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	want := c.leader().node.LocalGraph().Hash()
	addrs := []string{ln.Addr().String()}
	for _, tn := range c.nodes {
		addrs = append(addrs, tn.apiAddr)
	}
	for _, a := range addrs {
		waitFor(t, "graph at "+a, 10*time.Second, func() error {
			var ans struct {
				Index  uint64                `json:"index"`
				Hash   string                `json:"hash"`
				Result graph.ReachableResult `json:"result"`
			}
			err := cl.Do(context.Background(), "POST", a, "/v1/graph/query?consistency=stale", graph.Request{Op: graph.OpReachable, From: "user.create", To: "user.create"}, &ans, nil)
			if err != nil {
				return err
			}
			if ans.Hash != want || !ans.Result.Reachable {
				return fmt.Errorf("hash %s (want %s), index %d, ledger %d", ans.Hash, want, ans.Index, out.LedgerIndex)
			}
			return nil
		})
	}
}
