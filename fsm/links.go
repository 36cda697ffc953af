package fsm

import (
	"fmt"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// maxRequestIDs is limits.MaxRequestIDs; tests lower it.
var maxRequestIDs uint64 = limits.MaxRequestIDs

// Link is what the state machine needs of a delegation link whose
// signature, linkage and narrowing the proposer verified.
type Link struct {
	Hash        delegation.Hash        `json:"hash"`
	Issuer      principal.KeyID        `json:"issuer"`
	Audience    principal.KeyID        `json:"audience"`
	Constraints delegation.Constraints `json:"constraints"`
	NotBefore   int64                  `json:"not_before"`
	NotAfter    int64                  `json:"not_after"`
	MaxUses     uint64                 `json:"max_uses,omitempty"`
}

func linkHashes(links []Link) []string {
	if len(links) == 0 {
		return nil
	}
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.Hash.String()
	}
	return out
}

func (a *applier) linkState(h delegation.Hash) (LinkState, bool) {
	st, found, err := a.st.Link(h)
	if err != nil {
		panic(err)
	}
	return st, found
}

// checkChain re-checks at the committed time what only the replicated
// state can decide: linkage, revocation, each link's window, and the
// effective constraints for this capability and level. Use counts are
// charged separately, after every other check passed.
func (a *applier) checkChain(c *Invoke, path capability.Path, level capability.Level) error {
	links := c.Links
	if len(links) > limits.MaxChainDepth {
		return fmt.Errorf("%w: %d links", delegation.ErrTooDeep, len(links))
	}
	eff := delegation.Unrestricted()
	for i, l := range links {
		if i > 0 && links[i-1].Audience != l.Issuer {
			return fmt.Errorf("%w: link %d is issued by %s, not %s", delegation.ErrBrokenChain, i, l.Issuer, links[i-1].Audience)
		}
		if st, ok := a.linkState(l.Hash); ok && st.Revoked {
			return fmt.Errorf("%w: link %s", delegation.ErrRevoked, l.Hash)
		}
		if a.now < l.NotBefore {
			return fmt.Errorf("%w: link %s", delegation.ErrNotYetValid, l.Hash)
		}
		if a.now > l.NotAfter {
			return fmt.Errorf("%w: link %s", delegation.ErrExpired, l.Hash)
		}
		var err error
		if eff, err = delegation.Intersect(eff, l.Constraints); err != nil {
			return err
		}
	}
	if last := links[len(links)-1]; last.Audience != c.Invoker {
		return fmt.Errorf("%w: the last link is for %s, not the invoker %s", delegation.ErrBrokenChain, last.Audience, c.Invoker)
	}
	return eff.Allows(path, level)
}

// charge adds one use to every link of the chain, or to none when any link
// would exceed its max_uses.
func (a *applier) charge(links []Link) ([]event.UseCount, error) {
	if len(links) == 0 {
		return nil, nil
	}
	states := make([]LinkState, len(links))
	for i, l := range links {
		st, found := a.linkState(l.Hash)
		if !found {
			st = LinkState{Hash: l.Hash, Issuer: l.Issuer, Audience: l.Audience, MaxUses: l.MaxUses,
				NotAfter: l.NotAfter, FirstUsed: a.now}
		}
		if st.Issuer == "" { // revoked before first use: fill in what it is
			st.Issuer, st.Audience, st.MaxUses, st.NotAfter = l.Issuer, l.Audience, l.MaxUses, l.NotAfter
		}
		if l.MaxUses > 0 && st.Uses >= l.MaxUses {
			return nil, fmt.Errorf("%w: link %s used %d of %d", delegation.ErrUsageLimitExceeded, l.Hash, st.Uses, l.MaxUses)
		}
		states[i] = st
	}
	counts := make([]event.UseCount, len(links))
	for i := range states {
		states[i].Uses++
		must(a.st.PutLink(states[i]))
		counts[i] = event.UseCount{Link: links[i].Hash.String(), Used: states[i].Uses, Max: links[i].MaxUses}
	}
	return counts, nil
}

// revoke marks a link revoked; chains through it are refused from this
// entry on, on every node.
func (a *applier) revoke(h delegation.Hash, by principal.KeyID, reason string) {
	st, found := a.linkState(h)
	if !found {
		st = LinkState{Hash: h}
	}
	if st.Revoked {
		return
	}
	st.Revoked, st.RevokedAt, st.RevokedBy, st.Reason = true, a.now, by, reason
	must(a.st.PutLink(st))
	a.appendEvents(event.Event{Actor: string(by), Data: event.DelegationRevoked{
		TokenID: h.String(), RevokedBy: string(by), Reason: reason}})
}

// LinkStateOf reads a link's replicated state (for the API).
func (f *FSM) LinkStateOf(h delegation.Hash) (LinkState, bool, error) {
	var st LinkState
	var found bool
	err := f.state.View(func(r *state.Reader) error {
		var err error
		st, found, err = r.Link(h)
		return err
	})
	return st, found, err
}
