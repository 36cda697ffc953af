package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/forward"
	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/httpapi"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// The in-process cluster below is copied from transport/testcluster_test.go
// (test code) and extended with each node's hot path.

type testNode struct {
	id, dir, raftAddr, apiAddr, hotAddr string
	node                                *cluster.Node
	srv                                 *httpapi.Server
	hot                                 *Service
	apiLn                               net.Listener
	done                                chan struct{}
}

type testCluster struct {
	t       testing.TB
	nodes   []*testNode
	admin   ed25519.PrivateKey
	client  *client.Client
	clock   clock.Clock
	tuneHot func(*ServiceConfig)
	logw    testWriter
}

func listen(t testing.TB, addr string) net.Listener {
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

func newTestCluster(t testing.TB, n int, tuneHot func(*ServiceConfig)) *testCluster {
	t.Helper()
	_, admin, _ := principal.Generate(nil)
	c := &testCluster{t: t, admin: admin, client: client.New(client.Options{Key: admin, Timeout: 20 * time.Second}),
		clock: clock.System{}, tuneHot: tuneHot}
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
	tn.raftAddr, tn.apiAddr, tn.hotAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
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
	hotLn := listen(t, tn.hotAddr)
	tn.raftAddr, tn.apiAddr, tn.hotAddr = raftLn.Addr().String(), tn.apiLn.Addr().String(), hotLn.Addr().String()
	log := hclog.New(&hclog.LoggerOptions{Name: tn.id, Level: hclog.Warn, Output: c.logw})
	fwd := forward.New(forward.Config{Peers: peer.New(client.Options{Timeout: 10 * time.Second}), Logger: log})
	node, err := cluster.New(cluster.Config{
		NodeID: tn.id, DataDir: tn.dir, RaftListener: raftLn, APIAddr: tn.apiAddr,
		Bootstrap: boot, AdminKeys: []ed25519.PublicKey{c.admin.Public().(ed25519.PublicKey)},
		Remote: fwd, Logger: log,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.node = node
	fwd.Attach(node)
	tn.srv = httpapi.NewServer(httpapi.Config{Node: node, State: node.FSM(), Ledger: node.Store(), Forward: fwd, Logger: log})
	tn.done = make(chan struct{})
	go func() { defer close(tn.done); tn.srv.Serve(tn.apiLn) }()
	dc := hotpath.DefaultConfig()
	dc.Shards = 2
	sc := ServiceConfig{Node: node, Listener: hotLn, Log: log, Clock: c.clock, Dispatcher: &dc,
		FlushInterval: 50 * time.Millisecond, Builtins: server.BuiltinOptions{Timeout: 10 * time.Second},
		Authority: Config{LeaseBlock: 16, ProposeTimeout: 5 * time.Second}}
	if c.tuneHot != nil {
		c.tuneHot(&sc)
	}
	if tn.hot, err = Start(sc); err != nil {
		t.Fatalf("hot path on %s: %v", tn.id, err)
	}
}

// stop shuts a node down in order: hot path, API, Raft.
func (c *testCluster) stop(tn *testNode) {
	if tn.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tn.hot.Close(ctx)
	tn.srv.Shutdown(ctx)
	<-tn.done
	tn.node.Shutdown()
	tn.node = nil
}

// crash stops a node without letting its hot path settle or flush: its
// listeners close and Raft stops first, as a killed process would.
func (c *testCluster) crash(tn *testNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tn.srv.Shutdown(ctx)
	<-tn.done
	tn.node.Shutdown()
	tn.node = nil
	tn.hot.Close(ctx) // settlements and flushes fail: Raft is gone
}

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

func waitFor(t testing.TB, what string, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
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

func (c *testCluster) invoke(tn *testNode, key ed25519.PrivateKey, invs ...invocation.Invocation) ([]wire.Outcome, error) {
	cl := c.client
	if key != nil {
		cl = client.New(client.Options{Key: key, Timeout: 20 * time.Second})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cl.Invoke(ctx, tn.apiAddr, invs...)
}

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

func (c *testCluster) register(tn *testNode, agentID string) ed25519.PrivateKey {
	pub, priv, _ := principal.Generate(nil)
	doc, _ := json.Marshal(map[string]any{"public_key": []byte(pub), "agent_id": agentID, "agent_type": principal.Agent,
		"tenant": principal.DefaultTenant})
	c.adminInvoke(tn, "principal.register", doc)
	return priv
}

// grant issues a root link from the admin to audience.
func (c *testCluster) grant(audience ed25519.PublicKey, maxUses uint64, notAfter time.Time) delegation.Link {
	c.t.Helper()
	cons, err := delegation.NewConstraints([]string{"hot.*"}, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
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

// certify invokes capPath through tn with key (and the chain) and returns
// the certificate's wire-form JSON.
func (c *testCluster) certify(tn *testNode, key ed25519.PrivateKey, capPath string, chain ...delegation.Link) []byte {
	c.t.Helper()
	inv := invocation.Invocation{Capability: capPath}
	for _, l := range chain {
		b, err := delegation.Encode(l)
		if err != nil {
			c.t.Fatal(err)
		}
		inv.Chain = append(inv.Chain, b)
	}
	outs, err := c.invoke(tn, key, inv)
	if err != nil || outs[0].Decision != "allow" || outs[0].Certificate == nil {
		c.t.Fatalf("certificate for %s: %v %+v", capPath, err, outs)
	}
	o := outs[0]
	b, err := json.Marshal(certificate.Signed{Certificate: *o.Certificate, SignedBytes: o.SignedBytes,
		Signature: o.Signature, Signer: principal.KeyID(o.Signer)})
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// open dials tn's hot path with key and opens a session for cert.
func (c *testCluster) open(tn *testNode, key ed25519.PrivateKey, cert []byte) (*hotclient.Conn, *hotclient.Session, error) {
	conn, err := hotclient.Dial(tn.hotAddr, hotclient.Options{Key: key, Name: "hotnode test"})
	if err != nil {
		return nil, nil, err
	}
	c.t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := conn.OpenSession(ctx, cert)
	return conn, s, err
}

// setup starts n nodes and returns an agent key; the hot-path
// capabilities are built in, nothing is registered.
func setup(t *testing.T, n int, tune func(*ServiceConfig)) (*testCluster, ed25519.PrivateKey) {
	c := newTestCluster(t, n, tune)
	return c, c.register(c.leader(), "bot")
}
