package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cnv-project/cnv/cluster/hotlease"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/delegation"
)

// liveSession is what the authority keeps of an open session: its chain,
// its revocation signal and, for a limited chain, its lease (quota).
type liveSession struct {
	cert    string
	links   []delegation.Hash
	revoked chan struct{}
	once    sync.Once

	// lease is nil unless a link of the chain has max_uses.
	lease *hotlease.Lease
}

// newLiveSession checks the chain in the replicated state (waiting until
// this node has applied the certificate's ledger entry) and prepares the
// session.
func (a *Authority) newLiveSession(ctx context.Context, b *certificate.View) (*liveSession, error) {
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
	limited := false
	for i, st := range states {
		if err := linkUsable(links[i], st, found[i], now); err != nil {
			return nil, err
		}
		limited = limited || st.MaxUses > 0
	}
	if limited {
		s.lease = a.leases.NewLease(b.ID, links)
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
		if s.lease != nil {
			s.lease.Quota().Return()
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
