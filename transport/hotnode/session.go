package hotnode

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// liveSession is what the authority keeps of an open session: its chain,
// its revocation signal and, for a limited chain, its quota and lease.
type liveSession struct {
	cert    string
	links   []delegation.Hash
	revoked chan struct{}
	once    sync.Once

	limited bool
	quota   *hotpath.Quota
	lease   string
	stop    context.CancelFunc
	done    chan struct{}
}

// newLiveSession checks the chain in the replicated state (waiting until
// this node has applied the certificate's ledger entry) and prepares the
// session.
func (a *Authority) newLiveSession(ctx context.Context, c certificate.Certificate[certificate.Verified]) (*liveSession, error) {
	b := c.Body()
	links, err := parseChain(b.Chain)
	if err != nil {
		return nil, err
	}
	if err := a.waitLedger(ctx, b.LedgerIndex); err != nil {
		return nil, err
	}
	states, found, err := a.cfg.Node.FSM().LinkStates(links)
	if err != nil {
		return nil, err
	}
	s := &liveSession{cert: b.ID, links: links, revoked: make(chan struct{})}
	now := a.cfg.Clock.Now().UnixNano()
	for i, st := range states {
		if err := linkUsable(links[i], st, found[i], now); err != nil {
			return nil, err
		}
		s.limited = s.limited || st.MaxUses > 0
	}
	if s.limited {
		block := int64(a.cfg.LeaseBlock)
		s.quota = hotpath.NewQuota(block / 4)
		s.lease = fmt.Sprintf("%s-%d", a.leasePrefix, a.leaseSeq.Add(1))
	}
	return s, nil
}

// linkUsable refuses a link the replicated state does not know, has
// revoked, or whose window closed.
func linkUsable(h delegation.Hash, st fsm.LinkState, found bool, now int64) error {
	switch {
	case !found:
		return fmt.Errorf("%w: %s", fsm.ErrUnknownLink, h)
	case st.Revoked:
		return fmt.Errorf("%w: delegation link %s", proto.ErrRevoked, h)
	case st.NotAfter != 0 && now > st.NotAfter:
		return fmt.Errorf("%w: link %s", delegation.ErrExpired, h)
	}
	return nil
}

// waitLedger waits until this node's ledger holds the entry at index.
func (a *Authority) waitLedger(ctx context.Context, index uint64) error {
	store := a.cfg.Node.FSM().Store()
	for store.Head().Size <= index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: ledger index %d, this node has %d events", ErrBehind, index, store.Head().Size)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// revoke ends the session: the server kills it, and no further local use
// is possible from now on.
func (s *liveSession) revoke() {
	s.once.Do(func() {
		close(s.revoked)
		if s.quota != nil {
			s.quota.Return()
		}
	})
}

func (s *liveSession) isRevoked() bool {
	select {
	case <-s.revoked:
		return true
	default:
		return false
	}
}

// stopLeasing stops the lease loop and waits for it.
func (s *liveSession) stopLeasing() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}
