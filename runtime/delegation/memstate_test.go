package delegation

import (
	"sync"

	"github.com/cnv-project/cnv/runtime/capability"
)

// MemState is an in-memory EpochState with atomic hierarchical charging:
// the model the replicated state (fsm) follows, for the tests. It is safe
// for concurrent use.
type MemState struct {
	mu      sync.RWMutex
	revoked map[Hash]struct{}
	uses    map[Hash]uint64
	epoch   Epoch
}

// NewMemState returns an empty state.
func NewMemState() *MemState {
	return &MemState{revoked: make(map[Hash]struct{}), uses: make(map[Hash]uint64)}
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

// len counts the entries.
func (c *hashCache[V]) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// Strict allows nothing: empty allow, noun and verb lists, read-only.
func Strict() Constraints {
	return Constraints{Allow: []capability.Pattern{}, Nouns: []string{}, Verbs: []string{}}
}
