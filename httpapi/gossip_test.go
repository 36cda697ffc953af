package httpapi

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/edge"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// gossipTune turns gossip on with loopback timing and a short autopilot.
func gossipTune(cfg *cluster.Config) {
	cfg.Gossip = &cluster.GossipConfig{
		BindAddr: "127.0.0.1:0", Timing: gossip.FastTiming(),
		Autopilot: gossip.Policy{MaxLag: 100, StabilizationTime: 500 * time.Millisecond, DeadServerTimeout: 2 * time.Second},
		Fetch:     peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher(),
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
		APIAddr: ln.Addr().String(), Timing: gossip.FastTiming(), Fetch: peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	edge := edge.New(edge.Config{NodeID: "e1", Gossip: g, Peers: peer.New(client.Options{Timeout: 5 * time.Second})})
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

// BenchmarkEdgeGraphRead measures graph queries through an edge node's API
// (reachability and shortest path over the gossiped snapshot) while the
// cluster commits writes, and reports p50/p99 per query.
func BenchmarkEdgeGraphRead(b *testing.B) {
	c := newTestCluster(b, 1, gossipTune)
	for i := 1; i < 3; i++ {
		c.addGossip()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cl := client.New(client.Options{Timeout: 5 * time.Second})
	g, err := gossip.New(gossip.Config{NodeID: "e1", Role: gossip.RoleEdge, BindAddr: "127.0.0.1:0",
		APIAddr: ln.Addr().String(), Timing: gossip.FastTiming(), Fetch: peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher()})
	if err != nil {
		b.Fatal(err)
	}
	edge := edge.New(edge.Config{NodeID: "e1", Gossip: g, Peers: peer.New(client.Options{Timeout: 5 * time.Second})})
	go edge.Serve(ln)
	b.Cleanup(func() { edge.Shutdown(context.Background()); g.Shutdown() })
	g.Join([]string{c.nodes[0].node.Gossip().Addr()})
	c.adminInvoke(c.leader(), "capability.register", []byte(`{"capabilities":[
 {"path":"a.one"},{"path":"a.two"},{"path":"a.three"},{"path":"a.four"}],
 "edges":[{"from":"a.one","to":"a.two","type":"produces"},{"from":"a.two","to":"a.three","type":"produces"},{"from":"a.three","to":"a.four","type":"produces"}]}`))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, _, _, err := g.WaitGraph(ctx, c.leader().node.LocalGraph().RaftIndex()); err != nil {
		b.Fatal(err)
	}
	cancel()
	stop := make(chan struct{})
	go func() { // write load while reading
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.invoke(c.nodes[i%3], nil, invocation.Invocation{Capability: "a.one", Args: []invocation.Arg{{Name: "i", Value: fmt.Sprint(i)}}})
		}
	}()
	defer close(stop)
	for _, op := range []string{graph.OpReachable, graph.OpPath} {
		b.Run(op, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var ans map[string]any
				if err := cl.Do(context.Background(), "POST", ln.Addr().String(), "/v1/graph/query", graph.Request{Op: op, From: "a.one", To: "a.four"}, &ans, nil); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
