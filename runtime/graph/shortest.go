package graph

// ShortestPath appends to dst the shortest path, by hop count over
// followed edges, from a to b that every path policy allows, and reports
// whether there is one. Among equally short paths it returns the
// lexicographically smallest by index, which is by name. A node's path to
// itself is [a]. excludedBy is the index in Policies() of the first policy
// that the structurally shortest path violates, or -1 when that path was
// allowed (or there was none). err is ErrSearchBudget when policies forced
// a search that exceeded limits.MaxGraphSearchSteps.
//
// Without path policies it does not allocate beyond growing dst.
func (s *Snapshot) ShortestPath(dst []Index, a, b Index) (path []Index, found bool, excludedBy int, err error) {
	sc := s.getScratch()
	defer s.putScratch(sc)
	path, found = s.shortest(sc, dst, a, b, false)
	if !found {
		return dst, false, -1, nil
	}
	excludedBy = s.pol.violation(path[len(dst):], sc.seen)
	if excludedBy < 0 {
		return path, true, -1, nil
	}
	path, found, err = s.shortestAllowed(sc, dst, a, b)
	return path, found, excludedBy, err
}

// shortestAllowed finds the shortest path every policy allows: first the
// shortest path that avoids denied nodes, and if require_through policies
// reject it, a bounded search over simple paths.
func (s *Snapshot) shortestAllowed(sc *scratch, dst []Index, a, b Index) ([]Index, bool, error) {
	if s.pol.denied(a) || s.pol.denied(b) || a != b && !s.pol.feasible(&s.reach, a, b) {
		return dst, false, nil
	}
	path, ok := s.shortest(sc, dst, a, b, true)
	if !ok {
		return dst, false, nil
	}
	if s.pol.violation(path[len(dst):], sc.seen) < 0 {
		return path, true, nil
	}
	q := searchSpec{sources: []Index{a}, targets: []Index{b}, adj: &s.fwd, radj: &s.rev,
		minHops: len(path) - len(dst) - 1}
	return s.searchAllowed(sc, dst, q)
}

// shortest is a bidirectional breadth-first search that always grows the
// smaller frontier by one whole level, then rebuilds the lexicographically
// smallest shortest path from the two sets of complete levels. With
// avoidDenied, nodes that a deny_through policy matches are never entered.
func (s *Snapshot) shortest(sc *scratch, dst []Index, a, b Index, avoidDenied bool) ([]Index, bool) {
	if a == b {
		return append(dst, a), true
	}
	if !s.reach.has(a, b) {
		return dst, false
	}
	gen := sc.begin()
	var deny []int32
	if avoidDenied {
		deny = s.pol.denyOf
	}
	f, r := &sc.f, &sc.b
	f.reset(&s.fwd, gen, a)
	r.reset(&s.rev, gen, b)
	for {
		x, y := f, r
		if len(r.level(r.depth())) < len(f.level(f.depth())) {
			x, y = r, f
		}
		met, empty := x.expand(y, gen, deny)
		if met {
			break
		}
		if empty {
			return dst, false
		}
	}
	s.markShortest(sc, gen)
	return s.lexPath(sc, dst, a, gen), true
}

// expand adds the next level to x. met reports that the new level touches
// y's marks; empty that the new level has no nodes.
func (x *side) expand(y *side, gen uint32, deny []int32) (met, empty bool) {
	start := int32(len(x.q))
	d := x.depth() + 1
	for _, u := range x.level(x.depth()) {
		for _, v := range x.adj.of(u) {
			if x.mark[v] == gen || deny != nil && deny[v] >= 0 {
				continue
			}
			x.add(v, d, gen)
			met = met || y.mark[v] == gen
		}
	}
	x.starts = append(x.starts, start)
	return met, int32(len(x.q)) == start
}

// markShortest stamps onSP on every node that lies on some shortest path.
// With forward levels complete to depth fa and backward levels to depth rb,
// the shortest distance is fa+rb and the nodes at position fa are the
// forward level fa met by the backward level rb. Walking outwards from
// them: a forward node at position i is on a shortest path iff it has a
// successor on one at position i+1, and a backward node at position i iff
// it has a predecessor on one at position i-1.
func (s *Snapshot) markShortest(sc *scratch, gen uint32) {
	f, r := &sc.f, &sc.b
	fa, rb := f.depth(), r.depth()
	for _, v := range f.level(fa) {
		if r.mark[v] == gen && r.dist[v] == rb {
			sc.onSP[v] = gen
		}
	}
	for i := fa - 1; i >= 0; i-- {
		for _, u := range f.level(i) {
			for _, v := range s.fwd.of(u) {
				if sc.onSP[v] == gen && f.mark[v] == gen && f.dist[v] == i+1 {
					sc.onSP[u] = gen
					break
				}
			}
		}
	}
	for j := rb - 1; j >= 0; j-- {
		for _, w := range r.level(j) {
			for _, u := range s.rev.of(w) {
				if sc.onSP[u] == gen && r.mark[u] == gen && r.dist[u] == j+1 {
					sc.onSP[w] = gen
					break
				}
			}
		}
	}
}

// lexPath walks from a, always to the smallest successor that is on a
// shortest path at the next position.
func (s *Snapshot) lexPath(sc *scratch, dst []Index, a Index, gen uint32) []Index {
	f, r := &sc.f, &sc.b
	fa, d := f.depth(), f.depth()+r.depth()
	dst = append(dst, a)
	for i, cur := int32(1), a; i <= d; i++ {
		for _, v := range s.fwd.of(cur) {
			if sc.onSP[v] != gen {
				continue
			}
			if i <= fa && f.mark[v] == gen && f.dist[v] == i || i > fa && r.mark[v] == gen && r.dist[v] == d-i {
				dst, cur = append(dst, v), v
				break
			}
		}
	}
	return dst
}
