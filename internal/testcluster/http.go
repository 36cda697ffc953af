package testcluster

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/edge"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/httpapi"
	"github.com/cnv-project/cnv/metrics"
	"github.com/cnv-project/cnv/mux"
	"github.com/cnv-project/cnv/peer"
)

// httpNode is a node's API server.
type httpNode struct {
	srv  *httpapi.Server
	done chan struct{}
}

func (h *httpNode) shutdown(ctx context.Context) {
	h.srv.Shutdown(ctx)
	<-h.done
}

// Listen listens on addr (host:port, port 0 for any), retrying for a
// second: a restarted node rebinds the port it had.
func Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// startHTTP wires n as cmd/cnv-node's agent does: listeners, peer,
// forward, the node, the API server.
func (c *Cluster) startHTTP(n *Node, boot bool) *running {
	t := c.t
	t.Helper()
	raftLn := Listen(t, n.httpRaftAddr)
	apiLn := Listen(t, n.apiAddr)
	n.httpRaftAddr, n.apiAddr = raftLn.Addr().String(), apiLn.Addr().String()
	log := c.logger(n.ID)
	rmux, err := mux.New(raftLn, mux.Config{Token: n.token, Logger: log})
	if err != nil {
		t.Fatalf("%s raft port: %v", n.ID, err)
	}
	peers := peer.New(client.Options{Timeout: 10 * time.Second, Token: n.token}).
		WithMembers(func(ctx context.Context, addr string) (net.Conn, error) {
			return rmux.Dial(cluster.MuxRPC, addr, 5*time.Second)
		}, 30*time.Second)
	reg := metrics.New()
	fwd := forward.New(forward.Config{Peers: peers, Hold: c.opts.Hold, Logger: log, Registerer: reg})
	raftLayer := rmux.Listen(cluster.MuxRaft)
	cfg := c.config(n, boot, log)
	cfg.RaftListener, cfg.Dial, cfg.Remote, cfg.Metrics = raftLayer, raftLayer.Dial, fwd, reg
	if c.opts.Tune != nil {
		c.opts.Tune(n, &cfg)
	}
	node, err := cluster.New(cfg)
	if err != nil {
		raftLn.Close()
		apiLn.Close()
		t.Fatalf("start %s: %v", n.ID, err)
	}
	fwd.Attach(node)
	scfg := httpapi.Config{Node: node, State: node.FSM(), Ledger: node.Store(), Forward: fwd, Logger: log, Token: n.token,
		Metrics: reg.Handler(), Registerer: reg}
	if c.opts.TuneServer != nil {
		c.opts.TuneServer(n, &scfg)
	}
	h := &httpNode{srv: httpapi.NewServer(scfg), done: make(chan struct{})}
	go func() { defer close(h.done); h.srv.Serve(apiLn) }()
	go h.srv.ServeInternal(rmux.Listen(cluster.MuxRPC))
	return &running{node: node, http: h, metrics: reg}
}

// SetToken sets the cluster token n requires (and sends) from its next
// start on (HTTP flavour).
func (n *Node) SetToken(token string) { n.token = token }

// Client is an API client signing with the admin key (HTTP flavour).
func (c *Cluster) Client() *client.Client {
	c.needHTTP("Client")
	return c.client
}

func (c *Cluster) needHTTP(what string) {
	c.t.Helper()
	if !c.opts.HTTP {
		c.t.Fatalf("testcluster: %s needs the HTTP flavour (NewHTTP)", what)
	}
}

// Edge is an edge node started with StartEdge.
type Edge struct {
	ID, APIAddr string
	Gossip      *gossip.Gossip
}

// StartEdge starts an edge node (gossip, the edge API on loopback) that
// joins the gossip pool at joinAddr; it stops at the end of the test.
// The servers must run gossip (Options.Tune sets cluster.Config.Gossip).
func (c *Cluster) StartEdge(id, joinAddr string) *Edge {
	t := c.t
	t.Helper()
	c.needHTTP("StartEdge")
	ln := Listen(t, "127.0.0.1:0")
	g, err := gossip.New(gossip.Config{NodeID: id, Role: gossip.RoleEdge, BindAddr: "127.0.0.1:0",
		APIAddr: ln.Addr().String(), Timing: gossip.FastTiming(), Logger: c.logger(id),
		Fetch: peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher()})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := edge.New(edge.Config{NodeID: id, Gossip: g, Peers: peer.New(client.Options{Timeout: 5 * time.Second}), Logger: c.logger(id)})
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-done
		g.Shutdown()
	})
	if _, err := g.Join([]string{joinAddr}); err != nil {
		t.Fatalf("edge %s joins gossip: %v", id, err)
	}
	return &Edge{ID: id, APIAddr: ln.Addr().String(), Gossip: g}
}
