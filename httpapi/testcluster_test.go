package httpapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/metrics"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// testNode is one in-process node: cluster.Node plus its HTTP server on
// loopback, restartable on the same data dir and addresses.
type testNode struct {
	id, dir, raftAddr, apiAddr string
	node                       *cluster.Node
	srv                        *Server
	apiLn                      net.Listener
	done                       chan struct{}
	// token is the cluster token the node requires ("" for none).
	token string
	// metrics is the node's registry (a fresh one per start).
	metrics *metrics.Registry
	// down is set while the node is stopped (read by load goroutines).
	down atomic.Bool
}

// testCluster is the in-process cluster helper (compare hashicorp/raft's
// MakeCluster): real Raft over loopback TCP, real bbolt files, the real
// HTTP API.
type testCluster struct {
	t      testing.TB
	nodes  []*testNode
	admin  ed25519.PrivateKey
	client *client.Client
	tune   func(*cluster.Config)
	logw   testWriter
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // a restarted node rebinds its old port
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// newTestCluster starts n nodes: the first bootstraps, the others join it.
func newTestCluster(t testing.TB, n int, tune func(*cluster.Config)) *testCluster {
	t.Helper()
	_, admin, _ := principal.Generate(nil)
	c := &testCluster{t: t, admin: admin, client: client.New(client.Options{Key: admin, Timeout: 20 * time.Second}), tune: tune}
	c.logw = newTestWriter(t) // registered first: its cleanup runs after the nodes stopped
	t.Cleanup(c.stopAll)
	for i := 0; i < n; i++ {
		c.add(i == 0)
	}
	c.waitLeader()
	for _, tn := range c.nodes {
		c.waitReady(tn)
	}
	return c
}

func (c *testCluster) add(boot bool) *testNode {
	tn := &testNode{id: fmt.Sprintf("n%d", len(c.nodes)+1), dir: filepath.Join(c.t.TempDir())}
	tn.raftAddr, tn.apiAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.nodes = append(c.nodes, tn)
	c.start(tn, boot)
	if !boot {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tn.node.Join(ctx, []string{c.nodes[0].apiAddr}); err != nil {
			c.t.Fatalf("%s join: %v", tn.id, err)
		}
	}
	return tn
}

func (c *testCluster) start(tn *testNode, boot bool) {
	t := c.t
	raftLn := listen(t, tn.raftAddr)
	tn.apiLn = listen(t, tn.apiAddr)
	tn.raftAddr, tn.apiAddr = raftLn.Addr().String(), tn.apiLn.Addr().String()
	log := hclog.New(&hclog.LoggerOptions{Name: tn.id, Level: hclog.Warn, Output: c.logw})
	peers := peer.New(client.Options{Timeout: 10 * time.Second, Token: tn.token})
	tn.metrics = metrics.New()
	fwd := forward.New(forward.Config{Peers: peers, Hold: 5 * time.Second, Logger: log, Registerer: tn.metrics})
	cfg := cluster.Config{
		NodeID: tn.id, DataDir: tn.dir, RaftListener: raftLn, APIAddr: tn.apiAddr,
		Bootstrap: boot, AdminKeys: []ed25519.PublicKey{c.admin.Public().(ed25519.PublicKey)},
		Remote: fwd, Logger: log, Metrics: tn.metrics,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.node = node
	tn.down.Store(false)
	fwd.Attach(node)
	tn.srv = NewServer(Config{Node: node, State: node.FSM(), Ledger: node.Store(), Forward: fwd, Logger: log, Token: tn.token,
		Metrics: tn.metrics.Handler(), Registerer: tn.metrics})
	tn.done = make(chan struct{})
	go func() { defer close(tn.done); tn.srv.Serve(tn.apiLn) }()
}

// stop shuts a node down (its files stay).
func (c *testCluster) stop(tn *testNode) {
	if tn.node == nil {
		return
	}
	tn.down.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tn.srv.Shutdown(ctx)
	<-tn.done
	tn.node.Shutdown()
	tn.node = nil
}

func (c *testCluster) restart(tn *testNode) { c.start(tn, false) }

func (c *testCluster) stopAll() {
	var wg sync.WaitGroup
	for _, tn := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(tn) }()
	}
	wg.Wait()
}

// testWriter sends node logs to the test log until the test's cleanups
// are done; memberlist and raft goroutines may still log after a node
// stopped, and testing panics on a log after the test completed.
type testWriter struct {
	t    testing.TB
	mu   *sync.Mutex
	done *bool
}

func newTestWriter(t testing.TB) testWriter {
	w := testWriter{t: t, mu: new(sync.Mutex), done: new(bool)}
	t.Cleanup(func() { w.mu.Lock(); *w.done = true; w.mu.Unlock() })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

func (c *testCluster) leader() *testNode {
	for _, tn := range c.nodes {
		if tn.node != nil && tn.node.IsLeader() {
			return tn
		}
	}
	return nil
}

func (c *testCluster) waitLeader() *testNode {
	var l *testNode
	waitFor(c.t, "a leader", 20*time.Second, func() error {
		if l = c.leader(); l == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	return l
}

func (c *testCluster) waitReady(tn *testNode) {
	waitFor(c.t, tn.id+" ready", 20*time.Second, func() error { return tn.node.Ready() })
	waitFor(c.t, tn.id+" registered", 20*time.Second, func() error {
		if _, ok := tn.node.FSM().View().Nodes[tn.id]; !ok {
			return fmt.Errorf("no node record")
		}
		return nil
	})
}

func (c *testCluster) followers() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.node != nil && !tn.node.IsLeader() {
			out = append(out, tn)
		}
	}
	return out
}

// invoke submits invs signed by key through tn's API.
func (c *testCluster) invoke(tn *testNode, key ed25519.PrivateKey, invs ...invocation.Invocation) ([]wire.Outcome, error) {
	cl := c.client
	if key != nil {
		cl = client.New(client.Options{Key: key, Timeout: 20 * time.Second})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cl.Invoke(ctx, tn.apiAddr, invs...)
}

// admin runs a governance invocation with the admin key and requires allow.
func (c *testCluster) adminInvoke(tn *testNode, capPath string, payload []byte, args ...invocation.Arg) wire.Outcome {
	c.t.Helper()
	outs, err := c.invoke(tn, nil, invocation.Invocation{Capability: capPath, Payload: payload, Args: args})
	if err != nil {
		c.t.Fatalf("%s: %v", capPath, err)
	}
	if outs[0].Decision != "allow" {
		c.t.Fatalf("%s: %+v", capPath, outs[0])
	}
	return outs[0]
}

// register makes a principal and registers it.
func (c *testCluster) register(tn *testNode, agentID string, at principal.AgentType, tenant string) ed25519.PrivateKey {
	pub, priv, _ := principal.Generate(nil)
	doc, _ := json.Marshal(map[string]any{"public_key": []byte(pub), "agent_id": agentID, "agent_type": at, "tenant": tenant})
	c.adminInvoke(tn, "principal.register", doc)
	return priv
}

func (c *testCluster) status(tn *testNode) wire.Status {
	st, err := c.client.Status(context.Background(), tn.apiAddr)
	if err != nil {
		c.t.Fatalf("%s status: %v", tn.id, err)
	}
	return st
}

// waitConverged waits until every running node reports the same ledger
// size and root as the leader's linearizable view.
func (c *testCluster) waitConverged() wire.LedgerStatus {
	c.t.Helper()
	var want wire.LedgerStatus
	waitFor(c.t, "ledgers converge", 30*time.Second, func() error {
		l := c.leader()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		st, err := c.client.LedgerStatus(context.Background(), l.apiAddr, client.Read{})
		if err != nil {
			return err
		}
		want = st
		for _, tn := range c.nodes {
			if tn.node == nil {
				continue
			}
			h := tn.node.Store().Head()
			if h.Size != st.Size || h.Root.String() != st.Root {
				return fmt.Errorf("%s at %d, leader at %d", tn.id, h.Size, st.Size)
			}
		}
		return nil
	})
	return want
}

var _ = http.MethodGet
