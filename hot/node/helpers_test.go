package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"sync"
	"testing"
	"time"

	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// hotCluster is a testcluster over HTTP in which every node also runs
// its hot path (a Service, started by Options.OnStart): Stop closes the
// hot path first, Crash last, once Raft is gone.
type hotCluster struct {
	*testcluster.Cluster
	tune func(*ServiceConfig)

	mu    sync.Mutex
	addrs map[string]string // hot-path address by node ID, kept across restarts
}

func newHotCluster(t testing.TB, n int, tune func(*ServiceConfig)) *hotCluster {
	t.Helper()
	c := &hotCluster{tune: tune, addrs: map[string]string{}}
	c.Cluster = testcluster.NewHTTP(t, n, testcluster.Options{OnStart: func(tn *testcluster.Node) func(context.Context) {
		return c.startHot(t, tn)
	}})
	return c
}

// startHot starts tn's hot path on the address it had before (a free
// port the first time).
func (c *hotCluster) startHot(t testing.TB, tn *testcluster.Node) func(context.Context) {
	t.Helper()
	ln := testcluster.Listen(t, c.hotAddr(tn))
	c.mu.Lock()
	c.addrs[tn.ID] = ln.Addr().String()
	c.mu.Unlock()
	dc := hotpath.DefaultConfig()
	dc.Shards = 2
	sc := ServiceConfig{Node: tn.Node(), Listener: ln, Log: tn.Logger(), Clock: clock.System{}, Dispatcher: &dc,
		FlushInterval: 50 * time.Millisecond, Builtins: server.BuiltinOptions{Timeout: 10 * time.Second},
		Authority: Config{LeaseBlock: 16, ProposeTimeout: 5 * time.Second}, Registerer: tn.Metrics()}
	if c.tune != nil {
		c.tune(&sc)
	}
	svc, err := Start(sc)
	if err != nil {
		ln.Close()
		t.Fatalf("hot path on %s: %v", tn.ID, err)
	}
	return func(ctx context.Context) { svc.Close(ctx) } // after a crash, settlements and flushes fail: Raft is gone
}

// hotAddr is tn's hot-path address (any free port before its first
// start).
func (c *hotCluster) hotAddr(tn *testcluster.Node) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.addrs[tn.ID]; ok {
		return a
	}
	return "127.0.0.1:0"
}

// grant issues a root link for the hot-path capabilities (built into
// every registry) from the admin to audience.
func (c *hotCluster) grant(audience ed25519.PublicKey, maxUses uint64, notAfter time.Time) delegation.Link {
	return c.Grant(audience, maxUses, notAfter, "hot.*")
}

// certify invokes capPath through tn with key (and the chain) and returns
// the certificate's wire-form JSON.
func (c *hotCluster) certify(tn *testcluster.Node, key ed25519.PrivateKey, capPath string, chain ...delegation.Link) []byte {
	t := c.T()
	t.Helper()
	inv := invocation.Invocation{Capability: capPath}
	for _, l := range chain {
		inv.Chain = append(inv.Chain, c.Token(l))
	}
	outs, err := c.InvokeAPI(tn, key, inv)
	if err != nil || outs[0].Decision != "allow" || outs[0].Certificate == nil {
		t.Fatalf("certificate for %s: %v %+v", capPath, err, outs)
	}
	o := outs[0]
	b, err := json.Marshal(&o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// open dials tn's hot path with key and opens a session for cert.
func (c *hotCluster) open(tn *testcluster.Node, key ed25519.PrivateKey, cert []byte) (*hotclient.Conn, *hotclient.Session, error) {
	conn, err := hotclient.Dial(c.hotAddr(tn), hotclient.Options{Key: key, Name: "hotnode test"})
	if err != nil {
		return nil, nil, err
	}
	c.T().Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := conn.OpenSession(ctx, cert)
	return conn, s, err
}

// setup starts n nodes and returns an agent key; the hot-path
// capabilities are built in, nothing is registered.
func setup(t *testing.T, n int, tune func(*ServiceConfig)) (*hotCluster, ed25519.PrivateKey) {
	c := newHotCluster(t, n, tune)
	return c, c.RegisterAPI(c.Leader(), "bot", principal.Agent, principal.DefaultTenant)
}
