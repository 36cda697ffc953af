package graph

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Registry is the mutable capability graph: capabilities, edges and path
// policies, added one at a time and never removed. It is the builder of
// Snapshots, which answer queries. A Registry is not safe for concurrent
// use; the FSM owns one and publishes snapshots.
type Registry struct {
	nodes    []Node
	edges    []Edge
	policies []PathPolicy
	byCap    map[capability.ID]NodeID
	byPath   map[capability.Path][]NodeID
	edgeSet  map[edgeKey]EdgeID
	out, in  [][]EdgeID
}

// edgeKey identifies an edge for duplicate detection.
type edgeKey struct {
	from, to NodeID
	typ      EdgeType
	name     string
}

// NewRegistry returns an empty registry. The zero Registry is empty and
// ready to use too.
func NewRegistry() *Registry {
	return &Registry{
		byCap:   make(map[capability.ID]NodeID),
		byPath:  make(map[capability.Path][]NodeID),
		edgeSet: make(map[edgeKey]EdgeID),
	}
}

// Len returns the number of capabilities.
func (r *Registry) Len() int { return len(r.nodes) }

// EdgeCount returns the number of edges.
func (r *Registry) EdgeCount() int { return len(r.edges) }

// AddCapability adds n as a new node and returns its ID. n.ID is ignored;
// n.Capability is derived from the path and version (a different non-empty
// value is an error). Adding a capability ID that already exists is
// ErrDuplicateCapability: nothing is overwritten. The registry takes
// ownership of n's schemas and contract.
func (r *Registry) AddCapability(n Node) (NodeID, error) {
	if r.byCap == nil {
		*r = *NewRegistry()
	}
	if len(r.nodes) >= limits.MaxCapabilities {
		return 0, fmt.Errorf("%w: more than %d capabilities", ErrTooLarge, limits.MaxCapabilities)
	}
	id := n.Ref().ID()
	if n.Capability != "" && n.Capability != id {
		return 0, fmt.Errorf("%w: %s: capability id %q, want %q", ErrInvalidNode, n.Ref(), n.Capability, id)
	}
	n.Capability, n.ID = id, NodeID(len(r.nodes))
	if err := n.validate(); err != nil {
		return 0, err
	}
	if old, ok := r.byCap[id]; ok {
		return 0, fmt.Errorf("%w: %s is already node %d", ErrDuplicateCapability, n.Ref(), old)
	}
	n.Effects, n.Tags = slices.Clone(n.Effects), slices.Clone(n.Tags)
	r.nodes = append(r.nodes, n)
	r.byCap[id] = n.ID
	r.byPath[n.Path] = append(r.byPath[n.Path], n.ID)
	r.out, r.in = append(r.out, nil), append(r.in, nil)
	return n.ID, nil
}

// AddEdge adds an edge of type t (not Custom) with weight 1.
func (r *Registry) AddEdge(from, to NodeID, t EdgeType) (EdgeID, error) {
	return r.AddEdgeWith(Edge{From: from, To: to, Type: t, Weight: 1})
}

// AddEdgeWith adds e and returns its ID; e.ID is ignored. Either end
// missing is ErrNodeNotFound; an edge with the same ends, type and name is
// ErrDuplicateEdge. Self-loops are allowed (simple paths never use them).
func (r *Registry) AddEdgeWith(e Edge) (EdgeID, error) {
	if len(r.edges) >= limits.MaxGraphEdges {
		return 0, fmt.Errorf("%w: more than %d edges", ErrTooLarge, limits.MaxGraphEdges)
	}
	for _, id := range []NodeID{e.From, e.To} {
		if int(id) >= len(r.nodes) {
			return 0, fmt.Errorf("%w: node %d", ErrNodeNotFound, id)
		}
	}
	if err := e.validate(); err != nil {
		return 0, err
	}
	key := edgeKey{e.From, e.To, e.Type, e.Name}
	if old, ok := r.edgeSet[key]; ok {
		return 0, fmt.Errorf("%w: %s -%s-> %s is already edge %d", ErrDuplicateEdge,
			r.nodes[e.From].Ref(), e.Type, r.nodes[e.To].Ref(), old)
	}
	e.ID = EdgeID(len(r.edges))
	r.edges = append(r.edges, e)
	r.edgeSet[key] = e.ID
	r.out[e.From] = append(r.out[e.From], e.ID)
	r.in[e.To] = append(r.in[e.To], e.ID)
	return e.ID, nil
}

// AddPolicy adds a path policy. Each of its selectors must match at least
// one capability already in the registry (a selector that matches nothing
// is almost always a typo); an identical policy is ErrDuplicatePolicy.
func (r *Registry) AddPolicy(p PathPolicy) error {
	if len(r.policies) >= limits.MaxPathPolicies {
		return fmt.Errorf("%w: more than %d path policies", ErrTooLarge, limits.MaxPathPolicies)
	}
	if err := p.validate(); err != nil {
		return err
	}
	if slices.Contains(r.policies, p) {
		return fmt.Errorf("%w: %s", ErrDuplicatePolicy, p)
	}
	for _, sel := range p.selectors() {
		if !slices.ContainsFunc(r.nodes, func(n Node) bool { return sel.match(&n) }) {
			return fmt.Errorf("%w: %s: a selector matches no capability", ErrInvalidPolicy, p)
		}
	}
	r.policies = append(r.policies, p)
	return nil
}

// Node returns the node with the given ID.
func (r *Registry) Node(id NodeID) (Node, bool) {
	if int(id) >= len(r.nodes) {
		return Node{}, false
	}
	return r.nodes[id], true
}

// Edge returns the edge with the given ID.
func (r *Registry) Edge(id EdgeID) (Edge, bool) {
	if int(id) >= len(r.edges) {
		return Edge{}, false
	}
	return r.edges[id], true
}

// NodeByCapability returns the node of a capability ID.
func (r *Registry) NodeByCapability(id capability.ID) (NodeID, bool) {
	n, ok := r.byCap[id]
	return n, ok
}

// Outgoing returns the IDs of the edges leaving id, in insertion order.
// The slice is a copy.
func (r *Registry) Outgoing(id NodeID) []EdgeID {
	if int(id) >= len(r.out) {
		return nil
	}
	return slices.Clone(r.out[id])
}

// Incoming returns the IDs of the edges entering id, in insertion order.
func (r *Registry) Incoming(id NodeID) []EdgeID {
	if int(id) >= len(r.in) {
		return nil
	}
	return slices.Clone(r.in[id])
}

// Policies returns a copy of the path policies in the order added.
func (r *Registry) Policies() []PathPolicy { return slices.Clone(r.policies) }

// Resolve finds a node by name: "path@version" names exactly that version;
// a bare path names the unversioned capability of that path if there is
// one, else its only version, and is ErrAmbiguous when several versions
// exist.
func (r *Registry) Resolve(name string) (NodeID, error) {
	path, _, versioned := strings.Cut(name, "@")
	if versioned {
		ref, err := capability.ParseRef(name)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrNodeNotFound, err)
		}
		if id, ok := r.byCap[ref.ID()]; ok {
			return id, nil
		}
		return 0, notFound(name)
	}
	ids := r.byPath[capability.Path(path)]
	i, err := pickPlain(name, len(ids), func(i int) string { return r.nodes[ids[i]].Version })
	if err != nil {
		return 0, err
	}
	return ids[i], nil
}

// pickPlain chooses which of n nodes sharing a path a bare path names.
func pickPlain(name string, n int, version func(int) string) (int, error) {
	if n == 0 {
		return 0, notFound(name)
	}
	for i := range n {
		if version(i) == "" {
			return i, nil
		}
	}
	if n == 1 {
		return 0, nil
	}
	return 0, ambiguous(name)
}

// Clone returns an independent copy sharing only the immutable node
// contents.
func (r *Registry) Clone() *Registry {
	c := &Registry{
		nodes:    slices.Clone(r.nodes),
		edges:    slices.Clone(r.edges),
		policies: slices.Clone(r.policies),
		byCap:    maps.Clone(r.byCap),
		byPath:   make(map[capability.Path][]NodeID, len(r.byPath)),
		edgeSet:  maps.Clone(r.edgeSet),
		out:      make([][]EdgeID, len(r.out)),
		in:       make([][]EdgeID, len(r.in)),
	}
	for k, v := range r.byPath {
		c.byPath[k] = slices.Clone(v)
	}
	for i := range r.out {
		c.out[i], c.in[i] = slices.Clone(r.out[i]), slices.Clone(r.in[i])
	}
	return c
}
