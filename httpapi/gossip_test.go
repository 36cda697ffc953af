package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// gossipTune turns gossip on with loopback timing and a short autopilot.
func gossipTune(_ *testcluster.Node, cfg *cluster.Config) {
	cfg.Gossip = &cluster.GossipConfig{
		BindAddr: "127.0.0.1:0", Timing: gossip.FastTiming(),
		Autopilot: gossip.Policy{MaxLag: 100, StabilizationTime: 500 * time.Millisecond, DeadServerTimeout: 2 * time.Second},
		Fetch:     peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher(),
	}
}

// newGossipCluster starts n servers with gossip; joiners also join the
// gossip pool through the first node.
func newGossipCluster(t *testing.T, n int) *testcluster.Cluster {
	c := testcluster.NewHTTP(t, 1, testcluster.Options{Tune: gossipTune})
	for i := 1; i < n; i++ {
		addGossip(c)
	}
	waitVoters(c, n)
	return c
}

func addGossip(c *testcluster.Cluster) *testcluster.Node {
	tn := c.Add()
	if _, err := tn.Node().JoinGossip([]string{c.Node(0).Node().Gossip().Addr()}); err != nil {
		c.T().Fatal(err)
	}
	c.WaitReady(tn)
	return tn
}

// waitVoters waits until the leader's configuration has n voters, all
// alive in gossip.
func waitVoters(c *testcluster.Cluster, n int) {
	testcluster.WaitFor(c.T(), fmt.Sprintf("%d voters alive in gossip", n), 30*time.Second, func() error {
		l := c.Leader()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		ms, err := l.Node().Members()
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

func memberState(tn *testcluster.Node, id string) (raftState, gossipState string) {
	ms, _ := tn.Node().Members()
	for _, m := range ms {
		if m.NodeID == id {
			return m.Raft, m.Gossip
		}
	}
	return "absent", "absent"
}

// New servers join as non-voters and are promoted; a stopped server goes
// dead in gossip and is removed (tombstoned: members shows it "removed")
// while a quorum remains, never beyond; a restarted member rejoins.
func TestGossipAutopilot(t *testing.T) {
	c := newGossipCluster(t, 4)
	l := c.Leader()
	var victim *testcluster.Node
	for _, tn := range c.Followers() {
		victim = tn
		break
	}
	c.Stop(victim)
	testcluster.WaitFor(t, victim.ID+" dead and removed", 30*time.Second, func() error {
		r, g := memberState(l, victim.ID)
		if r != "removed" || (g != "dead" && g != "suspect" && g != "left") {
			return fmt.Errorf("%s: raft %s gossip %s", victim.ID, r, g)
		}
		return nil
	})
	// Two more down out of three voters: no removal may leave the
	// configuration without a quorum, and none happens.
	fs := c.Followers()
	for _, tn := range fs {
		if tn != victim && tn.Node() != nil {
			c.Stop(tn)
		}
	}
	time.Sleep(3 * time.Second) // longer than DeadServerTimeout: a removal would have happened
	for _, tn := range fs {
		if tn == victim {
			continue
		}
		if r, _ := memberState(l, tn.ID); r == "none" || r == "removed" || r == "absent" {
			t.Fatalf("%s removed without a quorum", tn.ID)
		}
	}
	for _, tn := range fs {
		if tn != victim {
			c.Restart(tn)
		}
	}
	c.WaitLeader()
	waitVoters(c, 3)
}

// A capability registered on the leader reaches every server's and an
// edge node's graph snapshot, with the same hash everywhere.
func TestGossipGraphPropagation(t *testing.T) {
	c := newGossipCluster(t, 3)
	cl := client.New(client.Options{Timeout: 5 * time.Second})
	e := c.StartEdge("e1", c.Node(1).Node().Gossip().Addr())
	out := c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	want := c.Leader().Node().LocalGraph().Hash()
	addrs := []string{e.APIAddr}
	for _, tn := range c.Nodes() {
		addrs = append(addrs, tn.APIAddr())
	}
	for _, a := range addrs {
		testcluster.WaitFor(t, "graph at "+a, 10*time.Second, func() error {
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
	c := testcluster.NewHTTP(b, 1, testcluster.Options{Tune: gossipTune})
	for i := 1; i < 3; i++ {
		addGossip(c)
	}
	cl := client.New(client.Options{Timeout: 5 * time.Second})
	e := c.StartEdge("e1", c.Node(0).Node().Gossip().Addr())
	g := e.Gossip
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(`{"capabilities":[
 {"path":"a.one"},{"path":"a.two"},{"path":"a.three"},{"path":"a.four"}],
 "edges":[{"from":"a.one","to":"a.two","type":"produces"},{"from":"a.two","to":"a.three","type":"produces"},{"from":"a.three","to":"a.four","type":"produces"}]}`))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, _, _, err := g.WaitGraph(ctx, c.Leader().Node().LocalGraph().RaftIndex()); err != nil {
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
			c.InvokeAPI(c.Node(i%3), nil, invocation.Invocation{Capability: "a.one", Args: []invocation.Arg{{Name: "i", Value: fmt.Sprint(i)}}})
		}
	}()
	defer close(stop)
	for _, op := range []string{graph.OpReachable, graph.OpPath} {
		b.Run(op, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var ans map[string]any
				if err := cl.Do(context.Background(), "POST", e.APIAddr, "/v1/graph/query", graph.Request{Op: op, From: "a.one", To: "a.four"}, &ans, nil); err != nil {
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
