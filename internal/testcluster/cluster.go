package testcluster

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/httpapi"
	"github.com/cnv-project/cnv/metrics"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Options configures a test cluster. The zero value is an in-memory
// cluster with the default timing.
type Options struct {
	// HTTP wires every node as cmd/cnv-node does (NewHTTP sets it).
	HTTP bool
	// Tune adjusts a node's config before each of its starts.
	Tune func(n *Node, cfg *cluster.Config)
	// TuneServer adjusts a node's API server config before each start
	// (HTTP flavour).
	TuneServer func(n *Node, cfg *httpapi.Config)
	// OnStart runs after a node started (and its API serves): extra
	// per-node services. The function it returns (may be nil) stops them:
	// first on Stop, last on Crash.
	OnStart func(n *Node) (stop func(ctx context.Context))
	// LogLevel is the level of node logs sent to the test log (default
	// Warn).
	LogLevel hclog.Level
	// Hold is how long an in-memory node-to-node call waits for a leader
	// (default 5s, the forwarder's).
	Hold time.Duration
	// Token is the cluster token every node requires and sends (HTTP
	// flavour; Node.SetToken changes one node's).
	Token string
}

// Cluster is a test cluster. Its helpers fail the test on error.
type Cluster struct {
	t      testing.TB
	opts   Options
	admin  ed25519.PrivateKey
	client *client.Client
	logw   *logWriter

	mu    sync.Mutex
	nodes []*Node
}

// Node is one member of a test cluster. It keeps its data dir (and, in
// memory, its Raft stores) across Stop and Restart.
type Node struct {
	// ID is the node ID (n1, n2, ...); Dir its data dir.
	ID, Dir string

	c   *Cluster
	cur atomic.Pointer[running] // nil while stopped

	// In memory: Raft's stores and address, the partition group.
	raftAddr raft.ServerAddress
	logs     *raft.InmemStore
	snaps    *SnapshotStore
	group    int // guarded by c.mu

	// HTTP: the addresses the node rebinds on restart, the token.
	httpRaftAddr, apiAddr string
	token                 string
}

// running is one start of a node; calls through the helpers and
// in-process node-to-node calls enter it, and Stop waits for them (as
// the HTTP server's shutdown waits for requests).
type running struct {
	node    *cluster.Node
	trans   *raft.InmemTransport // in memory
	http    *httpNode            // HTTP flavour
	metrics *metrics.Registry    // HTTP flavour: the node's registry
	stop    func(ctx context.Context)

	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup
}

// New starts n nodes in memory (see the package doc): the first
// bootstraps, the others join through it; it waits for a leader and for
// every node to be ready. Everything stops at the end of the test.
func New(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Warn
	}
	if opts.Hold == 0 {
		opts.Hold = 5 * time.Second
	}
	_, admin, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, opts: opts, admin: admin}
	c.logw = newLogWriter(t) // registered first: its cleanup runs after the nodes stopped
	if opts.HTTP {
		c.client = client.New(client.Options{Key: admin, Timeout: 20 * time.Second})
	}
	t.Cleanup(c.StopAll)
	for i := 0; i < n; i++ {
		c.add(i == 0)
	}
	c.WaitLeader()
	for _, tn := range c.Nodes() {
		c.WaitReady(tn)
	}
	return c
}

// NewHTTP is New with every node wired as cmd/cnv-node wires it: Raft
// over loopback TCP, raft-boltdb, file snapshots, the HTTP API, forward
// and peer.
func NewHTTP(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	opts.HTTP = true
	return New(t, n, opts)
}

// T is the test the cluster belongs to.
func (c *Cluster) T() testing.TB { return c.t }

// HTTP reports whether the nodes serve the HTTP API.
func (c *Cluster) HTTP() bool { return c.opts.HTTP }

// Admin is the admin key installed at bootstrap.
func (c *Cluster) Admin() ed25519.PrivateKey { return c.admin }

// AdminPublic is the admin public key.
func (c *Cluster) AdminPublic() ed25519.PublicKey { return c.admin.Public().(ed25519.PublicKey) }

// Trust is the node keys a verifier of the cluster's certificates holds:
// every running node's and every member's the running nodes know of.
func (c *Cluster) Trust() certificate.Trust {
	tr := certificate.Trust{}
	for _, n := range c.Nodes() {
		nn := n.Node()
		if nn == nil {
			continue
		}
		tr[nn.KeyID()] = nn.PublicKey()
		for _, rec := range nn.FSM().View().Nodes { // members stopped now
			tr[principal.IDOf(rec.PublicKey)] = rec.PublicKey
		}
	}
	return tr
}

// Nodes lists every node ever added, running or not, in order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Node is the i-th node (from 0).
func (c *Cluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Add starts a new node and joins it through the first node.
func (c *Cluster) Add() *Node {
	c.t.Helper()
	return c.add(false)
}

// NewNode starts a new node that neither bootstraps nor joins.
func (c *Cluster) NewNode() *Node {
	c.t.Helper()
	n := c.newNode()
	c.start(n, false)
	return n
}

func (c *Cluster) newNode() *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := &Node{ID: fmt.Sprintf("n%d", len(c.nodes)+1), Dir: c.t.TempDir(), c: c}
	if c.opts.HTTP {
		n.httpRaftAddr, n.apiAddr, n.token = "127.0.0.1:0", "127.0.0.1:0", c.opts.Token
	} else {
		n.raftAddr, n.apiAddr = raft.ServerAddress("raft://"+n.ID), "mem://"+n.ID
		n.logs, n.snaps = raft.NewInmemStore(), NewSnapshotStore()
	}
	c.nodes = append(c.nodes, n)
	return n
}

func (c *Cluster) add(boot bool) *Node {
	c.t.Helper()
	n := c.newNode()
	c.start(n, boot)
	if !boot {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Node().Join(ctx, []string{c.Node(0).APIAddr()}); err != nil {
			c.t.Fatalf("%s join: %v", n.ID, err)
		}
	}
	return n
}

// config is the part of a node's config both flavours share. Raft's
// timing is short: loopback (300ms) and, without a network, memory
// (100ms); Options.Tune may change it.
func (c *Cluster) config(n *Node, boot bool, log hclog.Logger) cluster.Config {
	hb := 300 * time.Millisecond
	if !c.opts.HTTP {
		hb = 100 * time.Millisecond
	}
	return cluster.Config{
		NodeID: n.ID, DataDir: n.Dir, APIAddr: n.apiAddr, Bootstrap: boot,
		AdminKeys: []ed25519.PublicKey{c.AdminPublic()}, Logger: log,
		HeartbeatTimeout: hb, ElectionTimeout: hb, LeaderLeaseTimeout: hb / 2,
	}
}

func (c *Cluster) start(n *Node, boot bool) {
	c.t.Helper()
	var r *running
	if c.opts.HTTP {
		r = c.startHTTP(n, boot)
	} else {
		r = c.startMem(n, boot)
	}
	n.cur.Store(r)
	if c.opts.OnStart != nil {
		r.stop = c.opts.OnStart(n)
	}
}

// Restart starts a stopped node again on its data dir (and stores).
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	if n.cur.Load() != nil {
		c.t.Fatalf("restart %s: it is running", n.ID)
	}
	c.start(n, false)
}

// Stop shuts a node down in order — its extra services, its API, Raft —
// and keeps its files (and stores). Stopping a stopped node does nothing.
func (c *Cluster) Stop(n *Node) { c.shutdown(n, false) }

// Crash stops a node as a killed process stops: its API and Raft go
// first, its extra services (OnStart) last, so they cannot settle.
func (c *Cluster) Crash(n *Node) { c.shutdown(n, true) }

func (c *Cluster) shutdown(n *Node, crash bool) {
	r := n.cur.Load()
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.stop != nil && !crash {
		r.stop(ctx)
	}
	r.close(ctx)
	if r.http != nil {
		r.http.shutdown(ctx)
	} else {
		c.disconnect(n, r)
	}
	if err := r.node.Shutdown(); err != nil {
		c.t.Logf("%s shutdown: %v", n.ID, err)
	}
	n.cur.Store(nil)
	if r.stop != nil && crash {
		r.stop(ctx)
	}
}

// StopAll stops every node (at the end of the test too).
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes() {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(n) }()
	}
	wg.Wait()
}

// Node is the running *cluster.Node (nil while stopped).
func (n *Node) Node() *cluster.Node {
	if r := n.cur.Load(); r != nil {
		return r.node
	}
	return nil
}

// Server is the running node's API server (HTTP flavour; nil in memory or
// while stopped).
func (n *Node) Server() *httpapi.Server {
	if r := n.cur.Load(); r != nil && r.http != nil {
		return r.http.srv
	}
	return nil
}

// Metrics is the running node's metrics registry (HTTP flavour; nil in
// memory or while stopped).
func (n *Node) Metrics() *metrics.Registry {
	if r := n.cur.Load(); r != nil {
		return r.metrics
	}
	return nil
}

// Running reports whether the node runs and takes calls.
func (n *Node) Running() bool {
	r := n.cur.Load()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed
}

// Logger is a logger to the test log named by the node's ID, for the
// services Options.OnStart starts.
func (n *Node) Logger() hclog.Logger { return n.c.logger(n.ID) }

// APIAddr is the node's API address (a mem:// name in memory).
func (n *Node) APIAddr() string { return n.apiAddr }

// RaftAddr is the address Raft peers reach the node at.
func (n *Node) RaftAddr() string {
	if n.c.opts.HTTP {
		return n.httpRaftAddr
	}
	return string(n.raftAddr)
}

// LogStore is the node's Raft log and stable store (in memory; nil over
// HTTP).
func (n *Node) LogStore() *raft.InmemStore { return n.logs }

// Snapshots is the node's snapshot store (in memory; nil over HTTP).
func (n *Node) Snapshots() *SnapshotStore { return n.snaps }

// errDown is a call to a node that is stopped or stopping.
var errDown = cnverr.New(cnverr.Unavailable, "node is down")

// enter admits a call to the running node; leave ends it.
func (n *Node) enter() (*running, error) {
	r := n.cur.Load()
	if r == nil {
		return nil, errDown
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errDown
	}
	r.calls.Add(1)
	return r, nil
}

func (r *running) leave() { r.calls.Done() }

// close refuses new calls and waits (until ctx ends) for those in flight.
func (r *running) close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// with runs f on the running node n (an error when it is down).
func with[T any](n *Node, f func(*cluster.Node) (T, error)) (T, error) {
	r, err := n.enter()
	if err != nil {
		var zero T
		return zero, err
	}
	defer r.leave()
	return f(r.node)
}

// Leader is a running node that is the Raft leader, or nil.
func (c *Cluster) Leader() *Node {
	for _, n := range c.Nodes() {
		if cn := n.Node(); cn != nil && cn.IsLeader() {
			return n
		}
	}
	return nil
}

// WaitLeader waits (20s) for a leader and returns it.
func (c *Cluster) WaitLeader() *Node {
	c.t.Helper()
	var l *Node
	WaitFor(c.t, "a leader", 20*time.Second, func() error {
		if l = c.Leader(); l == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	return l
}

// Followers lists the running nodes that are not the leader.
func (c *Cluster) Followers() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if cn := n.Node(); cn != nil && !cn.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// WaitReady waits (20s each) until n is ready and its own record is in
// its replicated state.
func (c *Cluster) WaitReady(n *Node) {
	c.t.Helper()
	WaitFor(c.t, n.ID+" ready", 20*time.Second, func() error {
		_, err := with(n, func(cn *cluster.Node) (struct{}, error) { return struct{}{}, cn.Ready() })
		return err
	})
	WaitFor(c.t, n.ID+" registered", 20*time.Second, func() error {
		_, err := with(n, func(cn *cluster.Node) (struct{}, error) {
			if _, ok := cn.FSM().View().Nodes[n.ID]; !ok {
				return struct{}{}, fmt.Errorf("no node record")
			}
			return struct{}{}, nil
		})
		return err
	})
}
