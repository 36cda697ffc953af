package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/cluster/hotlease"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
)

var (
	// ErrBehind is a certificate issued at a ledger index this node has
	// not applied within the open timeout.
	ErrBehind = cnverr.New(cnverr.Unavailable, "this node has not yet applied the certificate's ledger entry")
	// ErrBadConfig is an invalid hot-path node configuration. It is
	// hotlease.ErrBadConfig, so a bad lease setting and a bad node setting
	// are the same error.
	ErrBadConfig = hotlease.ErrBadConfig
)

// Config configures an Authority. LeaseBlock, MaxLeaseBlock,
// ProposeTimeout and StaleLeaseInterval configure its hotlease.Leaser
// (hotlease.Config: the defaults are applied there).
type Config struct {
	Node    Node
	Catalog *server.Catalog
	Clock   clock.Clock
	Log     hclog.Logger
	// LeaseBlock is how many uses one lease asks for (default 1024); the
	// next lease starts when a quarter of a block is left.
	LeaseBlock uint64
	// MaxLeaseBlock caps the block a fast session's leases grow to
	// (default 64 × LeaseBlock). It is also the most a crashed node can
	// hold unspent per session.
	MaxLeaseBlock uint64
	// WatchInterval bounds how long a revocation applied on this node takes
	// to end the sessions through it (default 20ms).
	WatchInterval time.Duration
	// ProposeTimeout bounds one lease or settlement proposal (default 10s).
	ProposeTimeout time.Duration
	// StaleLeaseInterval is how often the leases an earlier run of this
	// node left open are looked for and released (default 30s; the first
	// look is after at most 2s).
	StaleLeaseInterval time.Duration
}

// fill checks the node's part and sets its defaults; hotlease checks and
// defaults the lease settings (leases).
func (c *Config) fill() error {
	if c.Node == nil || c.Catalog == nil {
		return fmt.Errorf("%w: authority needs a node and a catalog", ErrBadConfig)
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Log == nil {
		c.Log = hclog.NewNullLogger()
	}
	if c.WatchInterval <= 0 {
		c.WatchInterval = 20 * time.Millisecond
	}
	return nil
}

// leases is the lease part of the configuration.
func (c *Config) leases() hotlease.Config {
	return hotlease.Config{Node: c.Node, Log: c.Log, LeaseBlock: c.LeaseBlock, MaxLeaseBlock: c.MaxLeaseBlock,
		ProposeTimeout: c.ProposeTimeout, StaleLeaseInterval: c.StaleLeaseInterval}
}

// Authority is the cluster's server.Authority: certificates are checked
// against the replicated node keys and link states, and max_uses are
// leased through Raft (hotlease). Safe for concurrent use.
type Authority struct {
	cfg    Config
	base   *server.CertAuthority // catalog mapping and handles only
	trust  atomic.Pointer[trustCache]
	leases *hotlease.Leaser

	mu   sync.Mutex
	live map[string]*liveSession

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ server.Authority = (*Authority)(nil)

type trustCache struct {
	view  *fsm.View
	trust certificate.Trust
}

// NewAuthority starts an authority, its revocation watcher and its
// leaser (which releases the leases an earlier run left open); Close stops
// them.
func NewAuthority(cfg Config) (*Authority, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	base, err := server.NewCertAuthority(certificate.NewTrust(cfg.Node.PublicKey()), cfg.Catalog, cfg.Clock)
	if err != nil {
		return nil, err
	}
	leases, err := hotlease.NewLeaser(cfg.leases())
	if err != nil {
		return nil, err
	}
	a := &Authority{cfg: cfg, base: base, leases: leases, live: make(map[string]*liveSession)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Add(1)
	go a.watch()
	return a, nil
}

// Leased is the number of uses leased to this node's sessions so far.
func (a *Authority) Leased() uint64 { return a.leases.Leased() }

// Close stops the watcher and every session's lease loop. Sessions still
// open are settled by the hot-path server's CloseSession calls; close the
// server first.
func (a *Authority) Close() {
	a.cancel()
	a.wg.Wait()
	a.leases.Close()
}

// trustSet is the node keys of the replicated state plus this node's own,
// rebuilt when the view changes.
func (a *Authority) trustSet() certificate.Trust {
	v := a.cfg.Node.FSM().View()
	if tc := a.trust.Load(); tc != nil && tc.view == v {
		return tc.trust
	}
	keys := []ed25519.PublicKey{a.cfg.Node.PublicKey()}
	for _, n := range v.Nodes {
		keys = append(keys, n.PublicKey)
	}
	t := certificate.NewTrust(keys...)
	a.trust.Store(&trustCache{view: v, trust: t})
	return t
}

// OpenSession implements server.Authority.
func (a *Authority) OpenSession(ctx context.Context, certificateJSON []byte, holder ed25519.PublicKey) (server.Grant, error) {
	c, err := a.verify(certificateJSON, holder)
	if err != nil {
		return server.Grant{}, err
	}
	g, err := a.base.GrantFor(c)
	if err != nil {
		return server.Grant{}, err
	}
	s, err := a.newLiveSession(ctx, c)
	if err != nil {
		return server.Grant{}, err
	}
	if !a.claim(g.Key, s) {
		return server.Grant{}, fmt.Errorf("%w: %s", proto.ErrSessionExists, g.Key)
	}
	if s.lease != nil {
		if err := a.leases.Start(ctx, s.lease); err != nil {
			a.release(g.Key)
			return server.Grant{}, err
		}
		g.Quota = s.lease.Quota()
	}
	g.Revoked = s.revoked
	return g, nil
}

// verify verifies the certificate against the replicated node keys at
// the current time and checks the holder.
func (a *Authority) verify(certificateJSON []byte, holder ed25519.PublicKey) (*certificate.View, error) {
	return server.VerifyHolder(certificateJSON, a.trustSet(), holder, a.cfg.Clock.Now().UnixNano())
}

// CloseSession implements server.Authority: it stops the session's lease
// loop and settles its leases (the unspent uses go back to every link).
func (a *Authority) CloseSession(ctx context.Context, g server.Grant, _ server.Usage) error {
	s := a.release(g.Key)
	if s == nil || s.lease == nil {
		return nil
	}
	return a.leases.Settle(ctx, s.lease)
}

func (a *Authority) claim(key string, s *liveSession) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.live[key]; ok {
		return false
	}
	a.live[key] = s
	return true
}

func (a *Authority) release(key string) *liveSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.live[key]
	delete(a.live, key)
	return s
}

// Sessions is the number of live sessions.
func (a *Authority) Sessions() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// parseChain decodes the certificate's chain link hashes.
func parseChain(chain []string) ([]delegation.Hash, error) {
	out := make([]delegation.Hash, len(chain))
	for i, s := range chain {
		h, err := delegation.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("%w: chain link %d: %v", certificate.ErrInvalid, i, err)
		}
		out[i] = h
	}
	return out, nil
}
