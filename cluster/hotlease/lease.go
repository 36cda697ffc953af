package hotlease

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cnv-project/cnv/fsm"
)

// leaseRetry is the pause between attempts when a lease or settlement
// could not be committed (no leader yet, leader change).
const leaseRetry = 50 * time.Millisecond

// leaseOnce proposes one lease. refused reports a definite refusal by the
// replicated state (nothing granted, asking again will not help); any other
// error leaves the outcome unknown, and settlement accounts for it.
func (l *Leaser) leaseOnce(ctx context.Context, s *Lease, want uint64, first bool) (granted uint64, refused bool, err error) {
	res, err := l.propose(ctx, fsm.Command{Kind: fsm.KindHotLease, HotLease: &fsm.HotLease{
		Lease: s.id, Node: l.cfg.Node.ID(), Certificate: s.cert, Links: s.links,
		Want: want, First: first,
	}})
	if err != nil {
		return 0, false, fmt.Errorf("%w: %v", ErrLeaseUnavailable, err)
	}
	if res.Err != nil {
		return 0, true, fmt.Errorf("%w: %s", ErrLeaseRefused, res.Err.Message)
	}
	l.leased.Add(res.Leased)
	return res.Leased, false, nil
}

// firstLease leases the session's first block before it opens, retrying
// commits that failed (no leader yet, a node record not yet replicated)
// until ctx ends. When it gives up with the outcome unknown, the lease is
// settled with nothing spent, so whatever was granted goes back.
func (l *Leaser) firstLease(ctx context.Context, s *Lease) error {
	for {
		n, refused, err := l.leaseOnce(ctx, s, l.cfg.LeaseBlock, true)
		switch {
		case err == nil:
			return s.quota.Lease(int64(n))
		case refused:
			return err
		case !sleepCtx(ctx, leaseRetry):
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				sctx, cancel := context.WithTimeout(l.ctx, l.cfg.ProposeTimeout)
				defer cancel()
				_ = l.settle(sctx, s, 0)
			}()
			return err
		}
	}
}

// startLeaseLoop leases the next block each time the quota runs low.
func (l *Leaser) startLeaseLoop(s *Lease) {
	ctx, cancel := context.WithCancel(l.ctx)
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		l.leaseLoop(ctx, s)
	}()
}

// leaseLoop leases the next block when the pacer says so (or when the
// quota signals its low-water mark), until a lease is refused or ctx ends.
func (l *Leaser) leaseLoop(ctx context.Context, s *Lease) {
	p := newPacer(l.cfg.LeaseBlock, l.cfg.MaxLeaseBlock, time.Now())
	for {
		p.observe(s.quota.Spent(), time.Now())
		if d := p.wait(s.quota.Available()); d > 0 {
			if !sleepOrSignal(ctx, s.quota.LowWater(), d) {
				return
			}
			continue
		}
		start := time.Now()
		n, refused, err := l.leaseOnce(ctx, s, p.want, false)
		switch {
		case err == nil:
			p.leased(time.Since(start), s.quota.Available() <= 0)
			_ = s.quota.Lease(int64(n))
		case refused:
			l.cfg.Log.Debug("hot-path lease refused; the session spends what it holds", "certificate", s.cert, "error", err)
			return
		default:
			if !sleepCtx(ctx, leaseRetry) {
				return
			}
		}
	}
}

func sleepOrSignal(ctx context.Context, sig <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-sig:
	case <-t.C:
	}
	return true
}

// settle reports what the session spent; the replicated state credits the
// rest of its leases back. It retries until ctx ends: a settlement that
// never commits leaves the uses charged (never more than max_uses spent).
func (l *Leaser) settle(ctx context.Context, s *Lease, spent uint64) error {
	for {
		res, err := l.propose(ctx, fsm.Command{Kind: fsm.KindHotReturn, HotReturn: &fsm.HotReturn{
			Lease: s.id, Node: l.cfg.Node.ID(), Spent: spent}})
		if err == nil && res.Err != nil {
			err = res.Err
		}
		if err == nil {
			return nil
		}
		if !sleepCtx(ctx, leaseRetry) {
			l.cfg.Log.Warn("hot-path lease not settled; its unspent uses stay charged", "certificate", s.cert, "lease", s.id, "error", err)
			return err
		}
	}
}

// releaseStale releases the leases an earlier run of this node left open
// (a crash, a kill): that process is gone and what it spent is unknown, so
// they are settled as fully spent. Nothing is credited back (the cluster
// stays within max_uses); their records are freed.
func (l *Leaser) releaseStale() {
	defer l.wg.Done()
	wait := min(2*time.Second, l.cfg.StaleLeaseInterval)
	for sleepCtx(l.ctx, wait) {
		wait = l.cfg.StaleLeaseInterval
		ids, err := l.cfg.Node.FSM().HotLeasesOf(l.cfg.Node.ID())
		if err != nil {
			l.cfg.Log.Warn("listing this node's hot-path leases failed", "error", err)
			continue
		}
		for _, id := range ids {
			if strings.HasPrefix(id, l.prefix+"-") {
				continue // this run's
			}
			s := &Lease{id: id, cert: "-"}
			if err := l.settle(l.ctx, s, math.MaxUint64); err == nil {
				l.cfg.Log.Info("released a hot-path lease left by an earlier run; its uses stay charged", "lease", id)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
