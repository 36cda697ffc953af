package delegation

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
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

// MemState is an in-memory State with atomic hierarchical charging, for
// tests, the offline CLI and as the model the replicated state follows. It
// is safe for concurrent use.
type MemState struct {
	mu      sync.RWMutex
	links   map[Hash]Link
	revoked map[Hash]struct{}
	uses    map[Hash]uint64
	epoch   Epoch
}

// NewMemState returns an empty state.
func NewMemState() *MemState {
	return &MemState{links: make(map[Hash]Link), revoked: make(map[Hash]struct{}), uses: make(map[Hash]uint64)}
}

// Register records a known link after checking its signature. Registering
// a link again is a no-op; its count and revocation are kept.
func (s *MemState) Register(l Link) error {
	if l.raw == nil {
		return fmt.Errorf("%w: empty link", ErrMalformed)
	}
	if err := l.VerifySignature(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.links[l.hash]; !ok {
		s.links[l.hash] = l
	}
	return nil
}

// Link returns the registered link with hash h. A revoked link stays known
// (Revoked says so), so that its chains can be explained.
func (s *MemState) Link(h Hash) (Link, bool) {
	s.mu.RLock()
	l, ok := s.links[h]
	s.mu.RUnlock()
	return l, ok
}

// Active returns the registered links that are valid at now (Unix ns) and
// not revoked, ordered by hash.
func (s *MemState) Active(now int64) []Link {
	s.mu.RLock()
	var out []Link
	for h, l := range s.links {
		if _, rev := s.revoked[h]; !rev && l.body.NotBefore <= now && now <= l.body.NotAfter {
			out = append(out, l)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].hash[:], out[j].hash[:]) < 0 })
	return out
}

// Prune forgets registered links that expired before now (Unix ns), with
// their counts and revocation marks: no chain through them can verify
// again. Links that are not yet valid are kept (the original deleted them
// too). It returns how many links it forgot.
func (s *MemState) Prune(now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, l := range s.links {
		if l.body.NotAfter < now {
			delete(s.links, h)
			delete(s.uses, h)
			delete(s.revoked, h)
			n++
		}
	}
	return n
}

// Revoke marks h revoked and reports whether it was not already.
func (s *MemState) Revoke(h Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.revoked[h]; ok {
		return false
	}
	s.revoked[h] = struct{}{}
	s.epoch.Advance()
	return true
}

// Revoked implements State.
func (s *MemState) Revoked(h Hash) bool {
	s.mu.RLock()
	_, ok := s.revoked[h]
	s.mu.RUnlock()
	return ok
}

// Uses implements State.
func (s *MemState) Uses(h Hash) uint64 {
	s.mu.RLock()
	n := s.uses[h]
	s.mu.RUnlock()
	return n
}

// RevocationEpoch implements EpochState.
func (s *MemState) RevocationEpoch() *Epoch { return &s.epoch }

// Charge charges every link of chain by one, atomically: either every count
// grows by one, or, when any link is at its max_uses, none does and the
// error wraps ErrUsageLimitExceeded.
func (s *MemState) Charge(chain []Link) ([]LinkCharge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	charges, err := Charge(chain, lockedState{s})
	if err != nil {
		return nil, err
	}
	for _, c := range charges {
		s.uses[c.Link] = c.Uses
	}
	return charges, nil
}

// lockedState reads a MemState whose lock the caller holds.
type lockedState struct{ s *MemState }

func (l lockedState) Revoked(h Hash) bool { _, ok := l.s.revoked[h]; return ok }
func (l lockedState) Uses(h Hash) uint64  { return l.s.uses[h] }

// LinkCharge is one link's use count after a charge.
type LinkCharge struct {
	Link    Hash   `json:"link"`
	Uses    uint64 `json:"uses"`     // the count after this charge
	MaxUses uint64 `json:"max_uses"` // 0 = unlimited
}

// Charge computes the charges of one invocation through chain: every link's
// count grows by one. It is pure: it reads st and changes nothing, so the
// caller applies the charges in the same step (the FSM within one applied
// batch, MemState under its lock). When any link is at its max_uses it
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
