package graph

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/limits"
)

// searchSpec describes a policy-constrained search for the shortest simple
// path from any source to any target.
type searchSpec struct {
	sources, targets []Index // ascending
	adj, radj        *csr
	minHops          int // no allowed path is shorter
}

// searchAllowed is iterative deepening over simple paths, shortest first,
// sources and successors in ascending order, so the first path found is
// the lexicographically smallest among the shortest allowed ones. It never
// enters denied nodes or a require_through target whose Z the path has not
// passed, and it prunes with the exact distance to the nearest target
// (denied nodes removed), which makes it A*-like. It stops with
// ErrSearchBudget after limits.MaxGraphSearchSteps expansions.
func (s *Snapshot) searchAllowed(sc *scratch, dst []Index, q searchSpec) ([]Index, bool, error) {
	gen := sc.begin()
	s.distToTargets(sc, gen, q)
	d := dfs{s: s, sc: sc, gen: gen, adj: q.adj, path: dst}
	for d.limit = q.minHops; d.limit < limits.MaxGraphPathNodes; d.limit++ {
		for _, src := range q.sources {
			if s.pol.denied(src) || !sc.b.has(src, gen) || int(sc.b.dist[src]) > d.limit {
				continue
			}
			if d.start(src) {
				return d.path, true, nil
			}
			if d.steps > limits.MaxGraphSearchSteps {
				return dst, false, fmt.Errorf("%w: more than %d steps", ErrSearchBudget, limits.MaxGraphSearchSteps)
			}
		}
	}
	return dst, false, nil
}

// distToTargets is a backward breadth-first search from every target,
// avoiding denied nodes; it leaves distances in sc.b and marks targets in
// sc.tgt.
func (s *Snapshot) distToTargets(sc *scratch, gen uint32, q searchSpec) {
	var seeds []Index
	for _, t := range q.targets {
		sc.tgt[t] = gen
		if !s.pol.denied(t) {
			seeds = append(seeds, t)
		}
	}
	sc.b.reset(q.radj, gen, seeds...)
	for {
		if _, empty := sc.b.expand(&sc.f, gen, s.pol.denyOf); empty {
			return
		}
	}
}

// dfs is one depth-limited search; path holds the caller's prefix and then
// the current path.
type dfs struct {
	s     *Snapshot
	sc    *scratch
	gen   uint32
	adj   *csr
	path  []Index
	limit int // hops
	steps int
}

func (d *dfs) start(src Index) bool {
	base := len(d.path)
	d.sc.onSP[src] = d.gen
	d.s.pol.enter(src, 0, d.sc.seen)
	d.path = append(d.path, src)
	if d.walk(src, 0) {
		d.clearSeen(base)
		return true
	}
	d.s.pol.leave(src, d.sc.seen)
	d.sc.onSP[src] = 0
	d.path = d.path[:base]
	return false
}

func (d *dfs) walk(v Index, depth int) bool {
	d.steps++
	if depth == d.limit {
		return d.sc.tgt[v] == d.gen
	}
	if d.steps > limits.MaxGraphSearchSteps {
		return false
	}
	for _, w := range d.adj.of(v) {
		if !d.canEnter(w, depth+1) {
			continue
		}
		d.sc.onSP[w] = d.gen
		d.path = append(d.path, w)
		if d.walk(w, depth+1) {
			return true
		}
		d.path = d.path[:len(d.path)-1]
		d.s.pol.leave(w, d.sc.seen)
		d.sc.onSP[w] = 0
	}
	return false
}

// canEnter checks w as the node at position pos and, when it may be
// entered, records it in the policy counts.
func (d *dfs) canEnter(w Index, pos int) bool {
	b := &d.sc.b
	if d.sc.onSP[w] == d.gen || !b.has(w, d.gen) || pos+int(b.dist[w]) > d.limit {
		return false
	}
	if d.s.pol.enter(w, pos, d.sc.seen) >= 0 {
		d.s.pol.leave(w, d.sc.seen)
		return false
	}
	return true
}

// clearSeen undoes the policy counts of a found path so the scratch is
// clean for the next query.
func (d *dfs) clearSeen(base int) {
	for _, v := range d.path[base:] {
		d.s.pol.leave(v, d.sc.seen)
	}
}

// AllPaths calls visit with every simple path from a to b over followed
// edges of at most maxNodes nodes (capped at limits.MaxGraphPathNodes), in
// lexicographic order, with the index of the first policy the path
// violates (-1 when allowed). The path slice is reused between calls.
// visit returns false to stop. AllPaths reports whether it stopped early,
// through visit or because the search exceeded limits.MaxGraphSearchSteps.
func (s *Snapshot) AllPaths(a, b Index, maxNodes int, visit func(path []Index, excludedBy int) bool) (truncated bool) {
	maxNodes = min(maxNodes, limits.MaxGraphPathNodes)
	if maxNodes < 1 || !s.reach.has(a, b) {
		return false
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	e := enumerator{s: s, sc: sc, gen: sc.begin(), to: b, maxNodes: maxNodes, visit: visit}
	e.path = append(e.path, a)
	sc.onSP[a] = e.gen
	e.walk(a)
	return e.stopped
}

type enumerator struct {
	s        *Snapshot
	sc       *scratch
	gen      uint32
	to       Index
	maxNodes int
	path     []Index
	steps    int
	stopped  bool
	visit    func([]Index, int) bool
}

func (e *enumerator) walk(v Index) {
	if e.steps++; e.steps > limits.MaxGraphSearchSteps {
		e.stopped = true
		return
	}
	if v == e.to {
		e.stopped = !e.visit(e.path, e.s.pol.violation(e.path, e.sc.seen))
		return
	}
	if len(e.path) == e.maxNodes {
		return
	}
	for _, w := range e.s.fwd.of(v) {
		if e.sc.onSP[w] == e.gen || !e.s.reach.has(w, e.to) {
			continue
		}
		e.sc.onSP[w] = e.gen
		e.path = append(e.path, w)
		e.walk(w)
		e.path = e.path[:len(e.path)-1]
		e.sc.onSP[w] = 0
		if e.stopped {
			return
		}
	}
}
