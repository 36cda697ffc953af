package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/ledger/cert/certtest"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock/clocktest"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/principal"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// node is a dispatcher, a catalog with the built-ins, a node key, a
// CertAuthority and a server on a loopback port.
type node struct {
	t        testing.TB
	clock    *clocktest.Fake
	disp     *hotpath.Dispatcher
	catalog  *Catalog
	builtins *Builtins
	key      ed25519.PrivateKey
	auth     *CertAuthority
	srv      *Server
	addr     string
	reqs     atomic.Uint64

	batchMu sync.Mutex
	batches []hotpath.Batch
}

func (n *node) sink(b hotpath.Batch) {
	n.batchMu.Lock()
	n.batches = append(n.batches, b)
	n.batchMu.Unlock()
}

// batchesOf returns the batches cut so far for session key.
func (n *node) batchesOf(key string) []hotpath.Batch {
	n.batchMu.Lock()
	defer n.batchMu.Unlock()
	var out []hotpath.Batch
	for _, b := range n.batches {
		if b.Key == key {
			out = append(out, b)
		}
	}
	return out
}

type nodeOpts struct {
	builtins   BuiltinOptions
	dispatcher func(*hotpath.Config)
	server     func(*Config)
	authority  func(*CertAuthority) Authority
	register   func(*node)
}

func newNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	if o.builtins.Timeout == 0 {
		o.builtins.Timeout = 10 * time.Second // no deadline flakes on loaded machines
	}
	n := &node{t: t, clock: clocktest.NewFake(t0)}
	dc := hotpath.DefaultConfig()
	dc.Shards, dc.Clock, dc.IdleSpin, dc.BatchSink, dc.BatchMaxCount = 2, n.clock, 64, n.sink, 4096
	if o.dispatcher != nil {
		o.dispatcher(&dc)
	}
	var err error
	if n.disp, err = hotpath.New(dc); err != nil {
		t.Fatal(err)
	}
	n.catalog = NewCatalog()
	if n.builtins, err = RegisterBuiltins(n.disp, n.catalog, o.builtins); err != nil {
		t.Fatal(err)
	}
	if o.register != nil {
		o.register(n)
	}
	if err := n.disp.Start(); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	n.key = priv
	if n.auth, err = NewCertAuthority(certificate.NewTrust(pub), n.catalog, n.clock); err != nil {
		t.Fatal(err)
	}
	var auth Authority = n.auth
	if o.authority != nil {
		auth = o.authority(n.auth)
	}
	cfg := Config{Dispatcher: n.disp, Authority: auth, Clock: n.clock, NodeID: "n1", Log: testLogger(t)}
	if o.server != nil {
		o.server(&cfg)
	}
	if n.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- n.srv.Serve(l) }()
	t.Cleanup(func() {
		n.srv.Close()
		if err := <-served; err != proto.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := n.disp.Stop(ctx); err != nil {
			t.Errorf("dispatcher stop: %v", err)
		}
	})
	return n
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// certSpec says what certificate to issue.
type certSpec struct {
	path    capability.Path
	effects []capability.EffectType
	ttl     time.Duration      // left of the validity window now (default: all of it)
	signer  ed25519.PrivateKey // default: the node's
	holder  ed25519.PublicKey
	tenant  string
}

// issue makes a real ledger certificate and returns its JSON.
func (n *node) issue(s certSpec) []byte {
	n.t.Helper()
	if s.signer == nil {
		s.signer = n.key
	}
	if s.tenant == "" {
		s.tenant = "acme"
	}
	issued := n.clock.Now()
	if s.ttl != 0 {
		issued = issued.Add(s.ttl - certificate.DefaultTTL)
	}
	return certtest.JSON(certtest.Spec{Capability: s.path, Effects: s.effects, Holder: s.holder, AgentID: "agent-1",
		Tenant: s.tenant, CorrelationID: "swarm-7", RequestID: fmt.Sprintf("r%d", n.reqs.Add(1)), Time: issued.UnixNano()}, s.signer)
}

// agent is a client key.
type agent struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newAgent(t testing.TB) agent {
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return agent{pub, priv}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// stalled is a WaitFor condition: the stall counter of n's server
// stats that count picks is above zero.
func (n *node) stalled(count func(Stats) uint64) func() error {
	return func() error {
		if count(n.srv.Stats()) == 0 {
			return errors.New("no stall yet")
		}
		return nil
	}
}

// invokeFails is a WaitFor condition: an invocation on s fails with want.
func invokeFails(t testing.TB, s *client.Session, want error) func() error {
	return func() error {
		if _, err := s.Invoke(ctx(t), nil); !errors.Is(err, want) {
			return fmt.Errorf("invoke: %v, want %v", err, want)
		}
		return nil
	}
}

// dial connects a hot/client to n with a's key (mod adjusts the options).
func (n *node) dial(a agent, mod func(*client.Options)) *client.Conn {
	n.t.Helper()
	o := client.Options{Key: a.priv, Name: "test"}
	if mod != nil {
		mod(&o)
	}
	c, err := client.Dial(n.addr, o)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// open dials and opens a session on cap for a new agent.
func (n *node) open(path capability.Path, effects ...capability.EffectType) (*client.Conn, *client.Session) {
	n.t.Helper()
	a := newAgent(n.t)
	c := n.dial(a, nil)
	s, err := c.OpenSession(ctx(n.t), n.issue(certSpec{path: path, effects: effects, holder: a.pub}))
	if err != nil {
		n.t.Fatal(err)
	}
	return c, s
}

// recordingAuthority wraps an Authority, optionally granting a quota and a
// revocation channel, and records closes.
type recordingAuthority struct {
	Authority
	lease   int64
	revoked chan struct{}

	mu     sync.Mutex
	closes []closeRecord
}

type closeRecord struct {
	grant    Grant
	usage    Usage
	returned int64
}

func (a *recordingAuthority) OpenSession(ctx context.Context, cert []byte, holder ed25519.PublicKey) (Grant, error) {
	g, err := a.Authority.OpenSession(ctx, cert, holder)
	if err != nil {
		return g, err
	}
	if a.lease > 0 {
		g.Quota = hotpath.NewQuota(0)
		if err := g.Quota.Lease(a.lease); err != nil {
			return Grant{}, err
		}
	}
	if a.revoked != nil {
		g.Revoked = a.revoked
	}
	return g, nil
}

func (a *recordingAuthority) CloseSession(ctx context.Context, g Grant, u Usage) error {
	var returned int64
	if g.Quota != nil {
		returned = g.Quota.Return()
	}
	a.mu.Lock()
	a.closes = append(a.closes, closeRecord{g, u, returned})
	a.mu.Unlock()
	return a.Authority.CloseSession(ctx, g, u)
}

func (a *recordingAuthority) closed() []closeRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]closeRecord(nil), a.closes...)
}

// recordingNode is a node whose authority records closes, granting each
// session a quota of lease uses (none when 0) and the revoked channel.
func recordingNode(t testing.TB, lease int64, revoked chan struct{}) (*node, *recordingAuthority) {
	var ra *recordingAuthority
	n := newNode(t, nodeOpts{authority: func(a *CertAuthority) Authority {
		ra = &recordingAuthority{Authority: a, lease: lease, revoked: revoked}
		return ra
	}})
	return n, ra
}

// closedCount is a WaitFor condition: want sessions closed at the authority.
func (a *recordingAuthority) closedCount(want int) func() error {
	return func() error {
		if got := len(a.closed()); got != want {
			return fmt.Errorf("%d sessions closed, want %d", got, want)
		}
		return nil
	}
}

// total is the built-in counter's value.
func (b *Builtins) total() uint64 { return b.sum.Load() }
