package delegation

import (
	"fmt"
	"sync/atomic"
)

// State is what verification needs from the replicated delegation state:
// whether a link is revoked and how often it has been used. Revoking a link
// invalidates every chain through it, because verification asks about every
// link of a chain. Methods may be called concurrently.
type State interface {
	Revoked(h Hash) bool
	Uses(h Hash) uint64
}

// EpochState is a State that can say cheaply whether anything was revoked
// since a chain was last checked: its Epoch changes after every revocation
// is visible through Revoked. Verification then skips the per-link
// revocation lookups of a chain already found clean at the current epoch.
type EpochState interface {
	State
	RevocationEpoch() *Epoch
}

// Epoch is a revocation generation counter owned by one State.
type Epoch struct{ v atomic.Uint64 }

// Load returns the current generation.
func (e *Epoch) Load() uint64 { return e.v.Load() }

// Advance moves to the next generation. Call it after the revocation it
// announces is visible through Revoked.
func (e *Epoch) Advance() { e.v.Add(1) }

// LinkCharge is one link's use count after a charge.
type LinkCharge struct {
	Link    Hash   `json:"link"`
	Uses    uint64 `json:"uses"`     // the count after this charge
	MaxUses uint64 `json:"max_uses"` // 0 = unlimited
}

// Charge computes the charges of one invocation through chain: every link's
// count grows by one. It is pure: it reads st and changes nothing, so the
// caller applies the charges in the same step (the FSM within one applied
// batch). When any link is at its max_uses it
// returns no charges and an error wrapping ErrUsageLimitExceeded that names
// the link.
func Charge(chain []Link, st State) ([]LinkCharge, error) {
	out := make([]LinkCharge, len(chain))
	for i := range chain {
		l := &chain[i]
		n := st.Uses(l.hash)
		if (l.body.MaxUses != 0 && n >= l.body.MaxUses) || n == ^uint64(0) {
			return nil, fmt.Errorf("%w: link %d (%v) used %d of %d", ErrUsageLimitExceeded, i, l.hash, n, l.body.MaxUses)
		}
		out[i] = LinkCharge{Link: l.hash, Uses: n + 1, MaxUses: l.body.MaxUses}
	}
	return out, nil
}
