package server

import (
	"fmt"
	"sync"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// ErrDuplicate is a capability registered twice in one catalog.
var ErrDuplicate = cnverr.New(cnverr.Conflict, "capability already in the hot-path catalog")

// Capability is a hot-path capability as the dispatcher knows it.
type Capability struct {
	ID    capability.ID
	Path  capability.Path
	Index uint32
	Flags capability.Flags
}

// Catalog maps capability IDs to the dispatcher's handler indexes: the
// capabilities this node serves on the hot path. Safe for concurrent use.
type Catalog struct {
	mu   sync.RWMutex
	byID map[capability.ID]Capability
	next uint32
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{byID: make(map[capability.ID]Capability)}
}

// Register installs h under the next free index of d and records it for id.
func (c *Catalog) Register(d *hotpath.Dispatcher, id capability.ID, path capability.Path, h hotpath.Handler, spec hotpath.Spec) (Capability, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; ok {
		return Capability{}, fmt.Errorf("%w: %s", ErrDuplicate, id)
	}
	idx := c.next
	if err := d.Register(idx, h, spec); err != nil {
		return Capability{}, err
	}
	c.next++
	e := Capability{ID: id, Path: path, Index: idx, Flags: spec.Flags}
	c.byID[id] = e
	return e, nil
}

// Lookup returns the capability registered for id.
func (c *Catalog) Lookup(id capability.ID) (Capability, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byID[id]
	return e, ok
}

// handles interns agent and tenant names as compact dispatcher handles, so
// one tenant always runs on one shard and shares its concurrency bounds.
type handles struct {
	mu      sync.Mutex
	agents  map[string]hotpath.AgentHandle
	tenants map[string]hotpath.TenantHandle
}

func newHandles() *handles {
	return &handles{agents: make(map[string]hotpath.AgentHandle), tenants: make(map[string]hotpath.TenantHandle)}
}

func (h *handles) get(agent, tenant string) (hotpath.AgentHandle, hotpath.TenantHandle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.agents[agent]
	if !ok {
		a = hotpath.AgentHandle(len(h.agents) + 1)
		h.agents[agent] = a
	}
	t, ok := h.tenants[tenant]
	if !ok {
		t = hotpath.TenantHandle(len(h.tenants) + 1)
		h.tenants[tenant] = t
	}
	return a, t
}
