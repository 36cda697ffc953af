package hotlease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

var (
	// ErrLeaseRefused is a quota lease the replicated state refused (the
	// chain's max_uses are spent, or a link was revoked or expired).
	ErrLeaseRefused = cnverr.New(cnverr.PermissionDenied, "quota lease refused")
	// ErrLeaseUnavailable is a quota lease that could not be committed
	// (no leader, timeout); the session is not opened.
	ErrLeaseUnavailable = cnverr.New(cnverr.Unavailable, "quota lease could not be committed")
	// ErrBadConfig is an invalid lease configuration. hot/node reports its
	// own configuration errors with this same sentinel (node.ErrBadConfig).
	ErrBadConfig = cnverr.New(cnverr.InvalidInput, "invalid hot-path node configuration")
)

// Config configures a Leaser.
type Config struct {
	Node Node
	Log  hclog.Logger
	// LeaseBlock is how many uses one lease asks for (default 1024); the
	// next lease starts when a quarter of a block is left.
	LeaseBlock uint64
	// MaxLeaseBlock caps the block a fast session's leases grow to
	// (default 64 × LeaseBlock). It is also the most a crashed node can
	// hold unspent per session.
	MaxLeaseBlock uint64
	// ProposeTimeout bounds one lease or settlement proposal (default 10s).
	ProposeTimeout time.Duration
	// StaleLeaseInterval is how often the leases an earlier run of this
	// node left open are looked for and released (default 30s; the first
	// look is after at most 2s).
	StaleLeaseInterval time.Duration
}

func (c *Config) fill() error {
	if c.Node == nil {
		return fmt.Errorf("%w: leases need a node", ErrBadConfig)
	}
	if c.Log == nil {
		c.Log = hclog.NewNullLogger()
	}
	if c.LeaseBlock == 0 {
		c.LeaseBlock = 1024
	}
	if c.MaxLeaseBlock == 0 {
		c.MaxLeaseBlock = min(64*c.LeaseBlock, limits.MaxHotLeaseBlock)
	}
	if c.LeaseBlock > c.MaxLeaseBlock || c.MaxLeaseBlock > limits.MaxHotLeaseBlock {
		return fmt.Errorf("%w: lease block %d, max lease block %d (at most %d)", ErrBadConfig, c.LeaseBlock, c.MaxLeaseBlock, limits.MaxHotLeaseBlock)
	}
	if c.ProposeTimeout <= 0 {
		c.ProposeTimeout = 10 * time.Second
	}
	if c.StaleLeaseInterval <= 0 {
		c.StaleLeaseInterval = 30 * time.Second
	}
	return nil
}

// Leaser leases the uses of this node's hot-path sessions through Raft and
// settles them, and releases the leases an earlier run of this node left
// open. Safe for concurrent use.
type Leaser struct {
	cfg Config
	// prefix makes lease IDs unique across this node's restarts.
	prefix string
	seq    atomic.Uint64
	// leased counts the uses granted to this node's sessions.
	leased atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewLeaser starts a leaser and its release of stale leases; Close stops
// it.
func NewLeaser(cfg Config) (*Leaser, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	l := &Leaser{cfg: cfg, prefix: hex.EncodeToString(rnd[:])}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.releaseStale()
	return l, nil
}

// Leased is the number of uses the replicated state granted this node's
// sessions so far.
func (l *Leaser) Leased() uint64 { return l.leased.Load() }

// Close stops the release of stale leases and every lease loop. Leases
// still open are settled by their sessions' Settle calls; settle them
// first.
func (l *Leaser) Close() {
	l.cancel()
	l.wg.Wait()
}

// Lease is the quota of one session whose chain has links with max_uses:
// blocks of uses leased through Raft (fsm KindHotLease, charged on every
// link) and spent locally through its Quota.
type Lease struct {
	id    string
	cert  string
	links []delegation.Hash
	quota *hotpath.Quota
	stop  context.CancelFunc
	done  chan struct{}
}

// NewLease prepares the lease of a session of certificate cert whose chain
// is links; nothing is leased before Start.
func (l *Leaser) NewLease(cert string, links []delegation.Hash) *Lease {
	block := int64(l.cfg.LeaseBlock)
	return &Lease{
		id: fmt.Sprintf("%s-%d", l.prefix, l.seq.Add(1)), cert: cert, links: links,
		quota: hotpath.NewQuota(block / 4),
	}
}

// Quota is what the session spends: the dispatcher charges it one use per
// accepted invocation.
func (s *Lease) Quota() *hotpath.Quota { return s.quota }

// Start leases the session's first block (before the session opens) and
// then keeps leasing the next block in the background each time the quota
// runs low, until Settle.
func (l *Leaser) Start(ctx context.Context, s *Lease) error {
	if err := l.firstLease(ctx, s); err != nil {
		return err
	}
	l.startLeaseLoop(s)
	return nil
}

// Settle stops the lease loop and reports what the session spent: the
// replicated state credits the unspent rest of its leases back to every
// link (fsm KindHotReturn).
func (l *Leaser) Settle(ctx context.Context, s *Lease) error {
	s.stopLeasing()
	s.quota.Return()
	return l.settle(ctx, s, uint64(s.quota.Spent()))
}

// stopLeasing stops the lease loop and waits for it.
func (s *Lease) stopLeasing() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

// propose commits one node command within the proposal timeout.
func (l *Leaser) propose(ctx context.Context, c fsm.Command) (fsm.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ProposeTimeout)
	defer cancel()
	res, err := l.cfg.Node.Propose(ctx, []fsm.Command{c})
	if err != nil {
		return fsm.Result{}, err
	}
	if len(res) != 1 {
		return fsm.Result{}, fmt.Errorf("%w: %d results for one command", ErrLeaseUnavailable, len(res))
	}
	return res[0], nil
}
