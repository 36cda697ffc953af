package graph

import (
	"cmp"
	"slices"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Snapshot builds an immutable snapshot of the registry stamped with the
// Raft index it reflects. The snapshot shares no mutable state with the
// registry, which may keep changing.
func (r *Registry) Snapshot(raftIndex uint64) (*Snapshot, error) {
	return newSnapshot(r.nodes, r.edges, r.policies, raftIndex)
}

// newSnapshot builds a snapshot from validated nodes (in NodeID order),
// edges (in EdgeID order) and policies.
func newSnapshot(nodes []Node, edges []Edge, policies []PathPolicy, raftIndex uint64) (*Snapshot, error) {
	s := &Snapshot{
		raftIndex: raftIndex,
		edges:     slices.Clone(edges),
		policies:  slices.Clone(policies),
	}
	if err := s.encodeBody(nodes); err != nil {
		return nil, err
	}
	s.orderNodes(nodes)
	s.buildNames()
	s.buildAdjacency()
	s.reach = buildClosure(len(s.nodes), &s.fwd)
	s.buildRelations()
	s.pol = buildPolicyIndex(s.nodes, s.policies)
	s.buildStats()
	n := len(s.nodes)
	s.pool.New = func() any { return newScratch(n, len(s.policies)) }
	return s, nil
}

// orderNodes sorts the nodes by (path, version) into dense indexes.
func (s *Snapshot) orderNodes(nodes []Node) {
	s.nodes = slices.Clone(nodes)
	slices.SortFunc(s.nodes, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Version, b.Version))
	})
	s.indexOf = make([]Index, len(nodes))
	s.byCap = make(map[capability.ID]Index, len(nodes))
	s.effSet = make([]uint16, len(nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		s.indexOf[n.ID] = Index(i)
		s.byCap[n.Capability] = Index(i)
		s.effSet[i] = n.Effects.Set()
	}
}

// buildNames assigns display names and the name index. Nodes sharing a path
// are adjacent in index order.
func (s *Snapshot) buildNames() {
	s.names = make([]string, len(s.nodes))
	s.byName = make(map[string]Index, len(s.nodes)+len(s.nodes)/4)
	for lo := 0; lo < len(s.nodes); {
		hi := lo + 1
		for hi < len(s.nodes) && s.nodes[hi].Path == s.nodes[lo].Path {
			hi++
		}
		s.nameGroup(lo, hi)
		lo = hi
	}
}

func (s *Snapshot) nameGroup(lo, hi int) {
	path := string(s.nodes[lo].Path)
	plain, err := pickPlain(path, hi-lo, func(i int) string { return s.nodes[lo+i].Version })
	s.byName[path] = -1
	if err == nil {
		s.byName[path] = Index(lo + plain)
	}
	for i := lo; i < hi; i++ {
		n := &s.nodes[i]
		s.names[i] = path
		if n.Version != "" {
			s.byName[path+"@"+n.Version] = Index(i)
			if err != nil || i != lo+plain {
				s.names[i] = path + "@" + n.Version
			}
		}
	}
}

// buildAdjacency builds the followed and the composition adjacency, both
// directions, without self-loops or duplicates.
func (s *Snapshot) buildAdjacency() {
	var follow, compose []uint64
	for i := range s.edges {
		e := &s.edges[i]
		a, b := s.indexOf[e.From], s.indexOf[e.To]
		if a == b {
			continue
		}
		if e.Type.Followed() {
			follow = append(follow, pair(a, b))
		}
		if e.Type == Produces && s.nodes[b].Input.AcceptsFrom(s.nodes[a].Output) {
			compose = append(compose, pair(a, b))
		}
	}
	n := len(s.nodes)
	s.fwd, s.rev = newCSR(n, follow, false), newCSR(n, follow, true)
	s.comp, s.rcomp = newCSR(n, compose, false), newCSR(n, compose, true)
}

func pair(a, b Index) uint64 { return uint64(a)<<32 | uint64(b) }

// newCSR builds adjacency from from<<32|to pairs (reversed: to -> from).
// It sorts pairs in place.
func newCSR(n int, pairs []uint64, reversed bool) csr {
	keys := pairs
	if reversed {
		keys = make([]uint64, len(pairs))
		for i, p := range pairs {
			keys[i] = p<<32 | p>>32
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	c := csr{off: make([]int32, n+1), adj: make([]Index, len(keys))}
	for i, k := range keys {
		c.off[k>>32+1]++
		c.adj[i] = Index(uint32(k))
	}
	for i := range n {
		c.off[i+1] += c.off[i]
	}
	return c
}

// buildRelations computes equivalence classes and explicit dominance.
func (s *Snapshot) buildRelations() {
	uf := newUnionFind(len(s.nodes))
	for i := range s.edges {
		e := &s.edges[i]
		a, b := s.indexOf[e.From], s.indexOf[e.To]
		switch e.Type {
		case Equivalent:
			uf.union(a, b)
		case Dominates:
			s.dominates = append(s.dominates, pair(a, b))
		}
	}
	slices.Sort(s.dominates)
	s.dominates = slices.Compact(s.dominates)
	s.class = uf.classes()
}

// unionFind keeps the smallest index of each set at its root, so the root
// is the class's deterministic name.
type unionFind struct{ parent []Index }

func newUnionFind(n int) *unionFind {
	uf := &unionFind{parent: make([]Index, n)}
	for i := range uf.parent {
		uf.parent[i] = Index(i)
	}
	return uf
}

func (uf *unionFind) find(x Index) Index {
	for uf.parent[x] != x {
		uf.parent[x] = uf.parent[uf.parent[x]]
		x = uf.parent[x]
	}
	return x
}

func (uf *unionFind) union(a, b Index) {
	ra, rb := uf.find(a), uf.find(b)
	if ra > rb {
		ra, rb = rb, ra
	}
	uf.parent[rb] = ra
}

// classes returns, per element, the smallest element of its set.
func (uf *unionFind) classes() []Index {
	out := make([]Index, len(uf.parent))
	for i := range out {
		out[i] = uf.find(Index(i))
	}
	return out
}

func (s *Snapshot) buildStats() {
	st := Stats{
		Nodes:       len(s.nodes),
		Edges:       len(s.edges),
		EdgesByType: make(map[string]int, numEdgeTypes),
		MaxDepth:    s.reach.maxDepth,
		Components:  s.reach.ncomp,
		Policies:    len(s.policies),
		RaftIndex:   s.raftIndex,
		Hash:        s.hash,
	}
	if st.Nodes > 0 {
		st.AvgDegree = float64(st.Edges) / float64(st.Nodes)
	}
	for i := range s.edges {
		e := &s.edges[i]
		st.EdgesByType[e.Type.String()]++
		a, b := s.indexOf[e.From], s.indexOf[e.To]
		if e.Type == Produces && !s.nodes[b].Input.AcceptsFrom(s.nodes[a].Output) {
			st.IncompatibleProduces++
		}
	}
	st.LargestComponent = s.reach.largest
	for i, c := range s.class {
		if c == Index(i) {
			st.Classes++
		}
	}
	s.stats = st
}
