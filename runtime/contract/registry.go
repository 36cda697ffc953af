package contract

import (
	"fmt"
	"sync"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Registry maps capability IDs to contracts, with a default for capabilities
// that registered none. All methods are safe for concurrent use; contracts
// are values, so callers own what Lookup returns.
type Registry struct {
	mu  sync.RWMutex
	m   map[capability.ID]Contract
	def Contract
}

// NewRegistry returns an empty registry whose default is def, which must be
// valid. Most callers pass Default().
func NewRegistry(def Contract) (*Registry, error) {
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("default contract: %w", err)
	}
	return &Registry{m: make(map[capability.ID]Contract), def: def}, nil
}

// Register validates c and sets it as id's contract, replacing any earlier
// one.
func (r *Registry) Register(id capability.ID, c Contract) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("contract for %s: %w", id, err)
	}
	r.mu.Lock()
	r.m[id] = c
	r.mu.Unlock()
	return nil
}

// Remove drops id's contract and reports whether there was one.
func (r *Registry) Remove(id capability.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[id]
	delete(r.m, id)
	return ok
}

// Get returns id's registered contract, if any.
func (r *Registry) Get(id capability.ID) (Contract, bool) {
	r.mu.RLock()
	c, ok := r.m[id]
	r.mu.RUnlock()
	return c, ok
}

// Lookup returns id's contract, or the default when none is registered.
func (r *Registry) Lookup(id capability.ID) Contract {
	if c, ok := r.Get(id); ok {
		return c
	}
	return r.def
}

// Default returns the registry's default contract.
func (r *Registry) Default() Contract { return r.def }

// Len is the number of registered contracts.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}
