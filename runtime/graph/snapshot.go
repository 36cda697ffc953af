package graph

import (
	"slices"
	"sync"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Snapshot is an immutable capability graph built from a Registry at a Raft
// index. Every method is safe for concurrent use. Methods that take an
// Index expect one in [0, Len()); Lookup turns names into indexes.
type Snapshot struct {
	raftIndex uint64
	hash      string
	body      []byte // canonical encoding of the snapshot body; hashed
	encOnce   sync.Once
	enc       []byte

	nodes    []Node // index order: sorted by (path, version)
	edges    []Edge // EdgeID order
	policies []PathPolicy
	indexOf  []Index // NodeID -> Index
	names    []string
	byName   map[string]Index // ambiguous bare paths map to -1
	byCap    map[capability.ID]Index

	fwd, rev    csr // followed edges (produces, requires), deduplicated
	comp, rcomp csr // produces edges whose target accepts the source's output
	reach       closure
	class       []Index  // smallest member of the node's equivalence class
	effSet      []uint16 // capability.Effects.Set per node
	dominates   []uint64 // sorted from<<32|to of explicit dominates edges
	pol         policyIndex
	stats       Stats

	pool sync.Pool // *scratch
}

// csr is compressed sparse row adjacency: the neighbours of i are
// adj[off[i]:off[i+1]], ascending.
type csr struct {
	off []int32
	adj []Index
}

func (c *csr) of(i Index) []Index { return c.adj[c.off[i]:c.off[i+1]] }

// Len returns the number of capabilities.
func (s *Snapshot) Len() int { return len(s.nodes) }

// RaftIndex returns the Raft index the snapshot reflects.
func (s *Snapshot) RaftIndex() uint64 { return s.raftIndex }

// Hash returns the hex SHA-256 of the snapshot's canonical body encoding.
func (s *Snapshot) Hash() string { return s.hash }

// Node returns the node at index i. Its schemas, tags and contract are
// shared and must not be modified.
func (s *Snapshot) Node(i Index) Node { return s.nodes[i] }

// Name returns the display name of node i: its path, or path@version when
// the bare path would name another version or be ambiguous. Lookup(Name(i))
// is always i.
func (s *Snapshot) Name(i Index) string { return s.names[i] }

// Edges returns a copy of the edges in EdgeID order (ends are NodeIDs; see
// IndexOfNode).
func (s *Snapshot) Edges() []Edge { return slices.Clone(s.edges) }

// Policies returns a copy of the path policies in the order added.
func (s *Snapshot) Policies() []PathPolicy { return slices.Clone(s.policies) }

// IndexOfNode maps a registry NodeID to its snapshot index.
func (s *Snapshot) IndexOfNode(id NodeID) (Index, bool) {
	if int(id) >= len(s.indexOf) {
		return 0, false
	}
	return s.indexOf[id], true
}

// IndexOfCapability maps a capability ID to its snapshot index.
func (s *Snapshot) IndexOfCapability(id capability.ID) (Index, bool) {
	i, ok := s.byCap[id]
	return i, ok
}

// Lookup finds a node by name with the rules of Registry.Resolve.
func (s *Snapshot) Lookup(name string) (Index, error) {
	i, ok := s.byName[name]
	switch {
	case !ok:
		return 0, notFound(name)
	case i < 0:
		return 0, ambiguous(name)
	}
	return i, nil
}

// Out returns the nodes that node i has a followed (produces or requires)
// edge to, ascending. The slice is shared and must not be modified.
func (s *Snapshot) Out(i Index) []Index { return s.fwd.of(i) }

// In returns the nodes with a followed edge to node i, ascending. Shared.
func (s *Snapshot) In(i Index) []Index { return s.rev.of(i) }

// Reachable reports whether a chain of produces and requires edges leads
// from a to b. It is reflexive (every node reaches itself) and transitive,
// ignores path policies, and is one bit test.
func (s *Snapshot) Reachable(a, b Index) bool { return s.reach.has(a, b) }

// Dominates reports whether a dominates b: there is an explicit dominates
// edge a -> b, or a's effect types are a strict superset of b's. It is not
// reflexive (a node dominates itself only through an explicit self edge),
// and a node without effects is dominated by every node that has some.
func (s *Snapshot) Dominates(a, b Index) bool {
	ea, eb := s.effSet[a], s.effSet[b]
	if ea&eb == eb && ea != eb {
		return true
	}
	_, ok := slices.BinarySearch(s.dominates, uint64(a)<<32|uint64(b))
	return ok
}

// Equivalent reports whether a and b are in the same equivalence class:
// the reflexive, symmetric and transitive closure of equivalent edges in
// either direction.
func (s *Snapshot) Equivalent(a, b Index) bool { return s.class[a] == s.class[b] }

// Classes returns the equivalence classes, singletons included: each class
// ascending by index, classes ordered by their smallest member.
func (s *Snapshot) Classes() [][]Index {
	pos := make(map[Index]int)
	var out [][]Index
	for i, c := range s.class {
		k, ok := pos[c]
		if !ok {
			k = len(out)
			pos[c] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], Index(i))
	}
	return out
}

// Stats returns the precomputed statistics.
func (s *Snapshot) Stats() Stats {
	st := s.stats
	st.EdgesByType = make(map[string]int, len(s.stats.EdgesByType))
	for k, v := range s.stats.EdgesByType {
		st.EdgesByType[k] = v
	}
	return st
}

// Stats describes a snapshot.
type Stats struct {
	Nodes int `json:"nodes"`
	Edges int `json:"edges"`
	// AvgDegree is edges per node (0 for an empty graph).
	AvgDegree   float64        `json:"avg_degree"`
	EdgesByType map[string]int `json:"edges_by_type"`
	// MaxDepth is the longest chain, in nodes, over followed edges with each
	// strongly connected component counted as one node. It is exact on
	// acyclic graphs and a lower bound on the longest simple path otherwise
	// (finding that is NP-hard); computing it is linear in the graph.
	MaxDepth int `json:"max_depth"`
	// Components counts strongly connected components over followed edges;
	// LargestComponent is the size of the biggest. Components < Nodes means
	// the graph has cycles.
	Components       int `json:"components"`
	LargestComponent int `json:"largest_component"`
	// Classes counts equivalence classes, singletons included.
	Classes int `json:"classes"`
	// IncompatibleProduces counts produces edges whose target's input does
	// not accept the source's output; composition skips them.
	IncompatibleProduces int    `json:"incompatible_produces"`
	Policies             int    `json:"policies"`
	RaftIndex            uint64 `json:"raft_index"`
	Hash                 string `json:"hash"`
}
