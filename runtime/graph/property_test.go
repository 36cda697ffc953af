package graph

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

// seedFor derives a reproducible seed from the test name and a round; every
// randomized test logs it.
func seedFor(t testing.TB, round int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", t.Name(), round)
	return h.Sum64()
}

// forRounds runs f count times, each round with its own reproducible seed
// and a generator seeded from it.
func forRounds(t testing.TB, count int, f func(round int, seed uint64, rng *rand.Rand)) {
	for round := range count {
		seed := seedFor(t, round)
		f(round, seed, rand.New(rand.NewPCG(seed, 0)))
	}
}

// randomGraph builds n nodes and m random edges of every type, and with
// policies, a few random path policies.
func randomGraph(t testing.TB, rng *rand.Rand, n, m int, policies bool) *Registry {
	t.Helper()
	r := NewRegistry()
	for i := range n {
		var eff capability.Effects
		for e := capability.ReadOnly; e <= capability.Privileged; e++ {
			if rng.IntN(4) == 0 {
				eff = append(eff, e)
			}
		}
		if _, err := r.AddCapability(Node{Path: capability.Path(fmt.Sprintf("n.c%03d", rng.IntN(1000)*100+i)), Effects: eff}); err != nil {
			t.Fatal(err)
		}
	}
	types := []EdgeType{Produces, Produces, Requires, Equivalent, Dominates}
	for range m {
		r.AddEdge(NodeID(rng.IntN(n)), NodeID(rng.IntN(n)), types[rng.IntN(len(types))]) // duplicates refused
	}
	for k := 0; policies && k < 3; k++ {
		name := func() string { return string(r.nodes[rng.IntN(n)].Path) }
		p := PathPolicy{DenyThrough: name()}
		if rng.IntN(3) > 0 {
			p = PathPolicy{RequireThrough: name(), To: name()}
		}
		r.AddPolicy(p) // duplicates refused
	}
	return r
}

// bfsDist is an independent reference: hop distances from a over followed
// edges in the registry, by snapshot index.
func bfsDist(s *Snapshot, a Index) []int {
	dist := make([]int, s.Len())
	for i := range dist {
		dist[i] = -1
	}
	dist[a] = 0
	for q := []Index{a}; len(q) > 0; q = q[1:] {
		for _, e := range s.edges {
			u, v := s.indexOf[e.From], s.indexOf[e.To]
			if e.Type.Followed() && u == q[0] && dist[v] < 0 {
				dist[v] = dist[u] + 1
				q = append(q, v)
			}
		}
	}
	return dist
}

func TestPropertyReachability(t *testing.T) {
	forRounds(t, 60, func(round int, seed uint64, rng *rand.Rand) {
		n := 1 + rng.IntN(40)
		s, _ := randomGraph(t, rng, n, rng.IntN(3*n), false).Snapshot(1)
		reach := make([][]int, n)
		for a := range Index(n) {
			reach[a] = bfsDist(s, a)
		}
		for a := range Index(n) {
			if !s.Reachable(a, a) {
				t.Fatalf("seed %d: %d does not reach itself", seed, a)
			}
			for b := range Index(n) {
				if s.Reachable(a, b) != (reach[a][b] >= 0) {
					t.Fatalf("seed %d: reachable(%d,%d) = %v, BFS says %d", seed, a, b, s.Reachable(a, b), reach[a][b])
				}
				for c := range Index(n) {
					if s.Reachable(a, b) && s.Reachable(b, c) && !s.Reachable(a, c) {
						t.Fatalf("seed %d: not transitive at %d %d %d", seed, a, b, c)
					}
				}
			}
		}
	})
}

// lexShortest is an independent reference for ShortestPath without
// policies: backward distances to b, then always the smallest successor one
// step closer.
func lexShortest(s *Snapshot, a, b Index) []Index {
	distTo := make([]int, s.Len())
	for v := range Index(s.Len()) {
		distTo[v] = bfsDist(s, v)[b]
	}
	if distTo[a] < 0 {
		return nil
	}
	path := []Index{a}
	for cur := a; cur != b; {
		for _, v := range s.Out(cur) {
			if distTo[v] == distTo[cur]-1 {
				cur = v
				break
			}
		}
		path = append(path, cur)
	}
	return path
}

func TestPropertyShortestPath(t *testing.T) {
	forRounds(t, 80, func(round int, seed uint64, rng *rand.Rand) {
		n := 1 + rng.IntN(30)
		s, _ := randomGraph(t, rng, n, rng.IntN(4*n), false).Snapshot(1)
		for range 20 {
			a, b := Index(rng.IntN(n)), Index(rng.IntN(n))
			got, found, _, err := s.ShortestPath(nil, a, b)
			want := lexShortest(s, a, b)
			if err != nil || found != (want != nil) || !slices.Equal(got, want) {
				t.Fatalf("seed %d: path %d->%d = %v (%v), want %v", seed, a, b, got, err, want)
			}
		}
	})
}

// allowedPaths enumerates every simple path (the enumeration is complete:
// n nodes at most) and returns the allowed ones, by AllPaths.
func allowedPaths(s *Snapshot, a, b Index) (allowed [][]Index) {
	s.AllPaths(a, b, s.Len(), func(p []Index, excl int) bool {
		if excl < 0 {
			allowed = append(allowed, slices.Clone(p))
		}
		return true
	})
	return allowed
}

func checkSimplePath(s *Snapshot, p []Index, a, b Index) error {
	if p[0] != a || p[len(p)-1] != b {
		return fmt.Errorf("path %v does not join %d and %d", p, a, b)
	}
	for i := 1; i < len(p); i++ {
		if !slices.Contains(s.Out(p[i-1]), p[i]) || slices.Contains(p[:i], p[i]) {
			return fmt.Errorf("path %v is not a simple path at %d", p, i)
		}
	}
	return nil
}

// With random policies, ShortestPath must return exactly the shortest,
// lexicographically smallest allowed simple path from the complete
// enumeration, and no path from the enumeration may be shorter than the
// structural shortest path.
func TestPropertyShortestPathUnderPolicies(t *testing.T) {
	forRounds(t, 150, func(round int, seed uint64, rng *rand.Rand) {
		n := 2 + rng.IntN(10)
		s, _ := randomGraph(t, rng, n, rng.IntN(3*n), true).Snapshot(1)
		for range 10 {
			a, b := Index(rng.IntN(n)), Index(rng.IntN(n))
			checkAgainstEnumeration(t, seed, s, a, b)
		}
	})
}

func checkAgainstEnumeration(t *testing.T, seed uint64, s *Snapshot, a, b Index) {
	t.Helper()
	allowed := allowedPaths(s, a, b)
	slices.SortStableFunc(allowed, func(x, y []Index) int {
		if len(x) != len(y) {
			return len(x) - len(y)
		}
		return slices.Compare(x, y)
	})
	got, found, _, err := s.ShortestPath(nil, a, b)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if found != (len(allowed) > 0) || found && !slices.Equal(got, allowed[0]) {
		t.Fatalf("seed %d: path %d->%d = %v (found %v), enumeration's best %v of %d, policies %v",
			seed, a, b, got, found, allowed, len(allowed), s.policies)
	}
	if found {
		if err := checkSimplePath(s, got, a, b); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	structural := lexShortest(s, a, b)
	for _, p := range allowed {
		if len(p) < len(structural) {
			t.Fatalf("seed %d: enumerated %v shorter than shortest %v", seed, p, structural)
		}
	}
}

func TestPropertyAllPaths(t *testing.T) {
	forRounds(t, 60, func(round int, seed uint64, rng *rand.Rand) {
		n := 2 + rng.IntN(10)
		s, _ := randomGraph(t, rng, n, rng.IntN(3*n), false).Snapshot(1)
		a, b := Index(rng.IntN(n)), Index(rng.IntN(n))
		depth := 1 + rng.IntN(n)
		var paths [][]Index
		s.AllPaths(a, b, depth, func(p []Index, _ int) bool {
			paths = append(paths, slices.Clone(p))
			return true
		})
		if want := countPaths(s, []Index{a}, b, depth); len(paths) != want {
			t.Fatalf("seed %d: %d paths, naive count %d", seed, len(paths), want)
		}
		shortest, found, _, _ := s.ShortestPath(nil, a, b)
		for i, p := range paths {
			if err := checkSimplePath(s, p, a, b); err != nil || len(p) > depth {
				t.Fatalf("seed %d: %v (len %d, depth %d)", seed, err, len(p), depth)
			}
			if !found || len(p) < len(shortest) {
				t.Fatalf("seed %d: path %v shorter than shortest %v", seed, p, shortest)
			}
			if i > 0 && slices.Compare(paths[i-1], p) >= 0 {
				t.Fatalf("seed %d: paths out of order", seed)
			}
		}
	})
}

// countPaths counts simple paths by naive DFS without pruning.
func countPaths(s *Snapshot, path []Index, b Index, depth int) int {
	v := path[len(path)-1]
	if v == b {
		return 1
	}
	if len(path) == depth {
		return 0
	}
	total := 0
	for _, w := range s.Out(v) {
		if !slices.Contains(path, w) {
			total += countPaths(s, append(path, w), b, depth)
		}
	}
	return total
}

func TestPropertySnapshotRoundTrip(t *testing.T) {
	forRounds(t, 40, func(round int, seed uint64, rng *rand.Rand) {
		n := 1 + rng.IntN(50)
		r := randomGraph(t, rng, n, rng.IntN(3*n), true)
		s, _ := r.Snapshot(uint64(round))
		enc := s.Encode()
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if d.Hash() != s.Hash() || !slices.Equal(d.Encode(), enc) || d.RaftIndex() != uint64(round) {
			t.Fatalf("seed %d: decode(encode(g)) differs", seed)
		}
		if !slices.Equal(d.reach.bits, s.reach.bits) || !slices.Equal(d.class, s.class) || !slices.Equal(d.names, s.names) {
			t.Fatalf("seed %d: derived state differs after decoding", seed)
		}
		again, _ := s.Registry().Snapshot(uint64(round))
		if again.Hash() != s.Hash() {
			t.Fatalf("seed %d: snapshot -> registry -> snapshot changed the hash", seed)
		}
	})
}
