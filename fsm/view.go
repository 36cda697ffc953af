package fsm

import (
	"sort"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// View is an immutable picture of the slowly changing replicated state:
// the policy set, principals, nodes and the capability registry with its
// graph snapshot. The FSM publishes a new View after every applied batch
// that changed one of them; readers load it without locks.
type View struct {
	// Index is the Raft index the view reflects.
	Index        uint64
	Bootstrapped bool
	Policy       *policy.Set
	Principals   map[principal.KeyID]principal.Principal
	Nodes        map[string]Node
	Registry     *graph.Registry
	// RegistryIndex is the Raft index of the last registry change; the
	// graph snapshot is stamped with it.
	RegistryIndex uint64
	Graph         *graph.Snapshot
	// Removed and RemovedKeys are the tombstones of removed servers, by
	// node id and by key (membership.go).
	Removed     map[string]Tombstone
	RemovedKeys map[principal.KeyID]Tombstone
}

// Principal returns the principal registered for a key.
func (v *View) Principal(k principal.KeyID) (principal.Principal, bool) {
	p, ok := v.Principals[k]
	return p, ok
}

// Capability resolves a path (with optional version) in the registry. A
// bare path names its unversioned registration, or its only version (several
// versions and none unversioned: not found); see graph.Registry.Resolve.
func (v *View) Capability(ref capability.Ref) (graph.Node, bool) {
	return resolve(v.Registry, ref)
}

func resolve(r *graph.Registry, ref capability.Ref) (graph.Node, bool) {
	id, err := r.Resolve(ref.String())
	if err != nil {
		return graph.Node{}, false
	}
	return r.Node(id)
}

// NodeList returns the node records sorted by ID.
func (v *View) NodeList() []Node {
	out := make([]Node, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Tombstoned returns the newest tombstone of node id or of key ("" for
// none): a server that matches one was removed and is readmitted only by a
// join naming that removal's index.
func (v *View) Tombstoned(id string, key principal.KeyID) (Tombstone, bool) {
	t, ok := v.Removed[id]
	if k, kok := v.RemovedKeys[key]; key != "" && kok && (!ok || k.Index > t.Index) {
		t, ok = k, true
	}
	return t, ok
}

// PrincipalList returns the principals sorted by key ID.
func (v *View) PrincipalList() []principal.Principal {
	out := make([]principal.Principal, 0, len(v.Principals))
	for _, p := range v.Principals {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	return out
}

// work is the mutable copy of a View used while applying one batch. Each
// part is copied on first write, so an unchanged batch copies nothing.
type work struct {
	base                                                    *View
	policy                                                  *policy.Set
	principals                                              map[principal.KeyID]principal.Principal
	nodes                                                   map[string]Node
	registry                                                *graph.Registry
	bootstrapped                                            bool
	registryIndex                                           uint64
	policyDirty, principalsDirty, nodesDirty, registryDirty bool
	removed                                                 map[string]Tombstone
	removedKeys                                             map[principal.KeyID]Tombstone
	removedDirty                                            bool
}

func newWork(v *View) *work {
	return &work{base: v, policy: v.Policy, principals: v.Principals, nodes: v.Nodes,
		registry: v.Registry, bootstrapped: v.Bootstrapped, removed: v.Removed, removedKeys: v.RemovedKeys}
}

func (w *work) setPolicy(s *policy.Set) { w.policy, w.policyDirty = s, true }

func (w *work) putPrincipal(p principal.Principal) {
	if !w.principalsDirty {
		m := make(map[principal.KeyID]principal.Principal, len(w.principals)+1)
		for k, v := range w.principals {
			m[k] = v
		}
		w.principals, w.principalsDirty = m, true
	}
	w.principals[p.KeyID] = p
}

func (w *work) putNode(n Node) {
	w.copyNodes()
	w.nodes[n.ID] = n
}

func (w *work) deleteNode(id string) {
	w.copyNodes()
	delete(w.nodes, id)
}

func (w *work) copyNodes() {
	if w.nodesDirty {
		return
	}
	m := make(map[string]Node, len(w.nodes)+1)
	for k, v := range w.nodes {
		m[k] = v
	}
	w.nodes, w.nodesDirty = m, true
}

// copyRemoved makes the tombstones this batch's own before a change.
func (w *work) copyRemoved() {
	if w.removedDirty {
		return
	}
	ids := make(map[string]Tombstone, len(w.removed)+1)
	for k, v := range w.removed {
		ids[k] = v
	}
	keys := make(map[principal.KeyID]Tombstone, len(w.removedKeys)+1)
	for k, v := range w.removedKeys {
		keys[k] = v
	}
	w.removed, w.removedKeys, w.removedDirty = ids, keys, true
}

func (w *work) mutableRegistry() *graph.Registry {
	if !w.registryDirty {
		w.registry, w.registryDirty = w.registry.Clone(), true
	}
	return w.registry
}

func (w *work) dirty() bool {
	return w.policyDirty || w.principalsDirty || w.nodesDirty || w.registryDirty || w.removedDirty ||
		w.bootstrapped != w.base.Bootstrapped
}

// publish returns the View after the batch at index.
func (w *work) publish(index uint64) (*View, error) {
	v := &View{Index: index, Bootstrapped: w.bootstrapped, Policy: w.policy,
		Principals: w.principals, Nodes: w.nodes, Registry: w.registry,
		RegistryIndex: w.base.RegistryIndex, Graph: w.base.Graph, Removed: w.removed, RemovedKeys: w.removedKeys}
	if w.registryDirty || v.Graph == nil {
		v.RegistryIndex = w.registryIndex
		g, err := w.registry.Snapshot(v.RegistryIndex)
		if err != nil {
			return nil, err
		}
		v.Graph = g
	}
	return v, nil
}
