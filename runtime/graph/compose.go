package graph

import "github.com/cnv-project/cnv/runtime/capability"

// Compose appends to dst the shortest chain of capabilities that turns a
// value of type from into a value of type to, and reports whether there is
// one. The chain starts at a node whose input accepts from, ends at a node
// whose output to accepts, and follows produces edges along which the
// target's input accepts the source's output (capability.Schema.AcceptsFrom
// at every step). A single node that does both is a chain of one. Among
// equally short chains the lexicographically smallest by name wins.
// Policies, excludedBy and err are as for ShortestPath.
func (s *Snapshot) Compose(dst []Index, from, to *capability.Schema) (path []Index, found bool, excludedBy int, err error) {
	starts, ends := s.composeEnds(from, to)
	if len(starts) == 0 || len(ends) == 0 {
		return dst, false, -1, nil
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	path, found = s.composeBFS(sc, dst, starts, ends, false)
	if !found {
		return dst, false, -1, nil
	}
	if excludedBy = s.pol.violation(path[len(dst):], sc.seen); excludedBy < 0 {
		return path, true, -1, nil
	}
	path, found = s.composeBFS(sc, dst, starts, ends, true)
	if found && s.pol.violation(path[len(dst):], sc.seen) >= 0 {
		q := searchSpec{sources: starts, targets: ends, adj: &s.comp, radj: &s.rcomp,
			minHops: len(path) - len(dst) - 1}
		path, found, err = s.searchAllowed(sc, dst, q)
	}
	return path, found, excludedBy, err
}

// composeEnds lists the nodes that accept from and those that produce
// something to accepts, ascending.
func (s *Snapshot) composeEnds(from, to *capability.Schema) (starts, ends []Index) {
	for i := range s.nodes {
		n := &s.nodes[i]
		if n.Input.AcceptsFrom(from) {
			starts = append(starts, Index(i))
		}
		if to.AcceptsFrom(n.Output) {
			ends = append(ends, Index(i))
		}
	}
	return starts, ends
}

// composeBFS is a multi-source breadth-first search over composition
// edges. Sources enter in ascending order and successors are scanned in
// ascending order, so each node's first parent gives it the
// lexicographically smallest shortest path, and the first end dequeued
// ends the smallest shortest chain.
func (s *Snapshot) composeBFS(sc *scratch, dst []Index, starts, ends []Index, avoidDenied bool) ([]Index, bool) {
	gen := sc.begin()
	for _, e := range ends {
		sc.tgt[e] = gen
	}
	f := &sc.f
	f.reset(&s.comp, gen)
	for _, v := range starts {
		if !avoidDenied || !s.pol.denied(v) {
			f.add(v, 0, gen)
			sc.par[v] = -1
		}
	}
	for head := 0; head < len(f.q); head++ {
		u := f.q[head]
		if sc.tgt[u] == gen {
			return appendParents(dst, sc.par, u), true
		}
		for _, v := range s.comp.of(u) {
			if f.mark[v] != gen && !(avoidDenied && s.pol.denied(v)) {
				f.add(v, f.dist[u]+1, gen)
				sc.par[v] = u
			}
		}
	}
	return dst, false
}

// appendParents appends the path that ends at v, following parents back to
// a root (-1), in forward order.
func appendParents(dst []Index, par []Index, v Index) []Index {
	base := len(dst)
	for ; v >= 0; v = par[v] {
		dst = append(dst, v)
	}
	p := dst[base:]
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
	return dst
}
