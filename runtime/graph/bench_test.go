package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

// randomRegistry builds n capabilities and m distinct random produces and
// requires edges (no self-loops), from a fixed seed.
func randomRegistry(tb testing.TB, n, m int, seed uint64) *Registry {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	r := NewRegistry()
	for i := range n {
		node := Node{Path: capability.Path(fmt.Sprintf("svc%d.op%d", i%97, i)),
			Input: refSchema("T"), Output: refSchema("T"),
			Effects: capability.Effects{capability.EffectType(i % 8)}}
		if _, err := r.AddCapability(node); err != nil {
			tb.Fatal(err)
		}
	}
	for r.EdgeCount() < m {
		a, b := NodeID(rng.IntN(n)), NodeID(rng.IntN(n))
		if a != b {
			r.AddEdge(a, b, []EdgeType{Produces, Requires}[rng.IntN(2)]) // duplicates refused
		}
	}
	return r
}

func randomSnapshot(tb testing.TB, n, m int) *Snapshot {
	tb.Helper()
	s, err := randomRegistry(tb, n, m, 1).Snapshot(1)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// reachablePairs picks 1024 random pairs with a path between them.
func reachablePairs(s *Snapshot) [][2]Index {
	rng := rand.New(rand.NewPCG(2, 2))
	var out [][2]Index
	for len(out) < 1024 {
		a, b := Index(rng.IntN(s.Len())), Index(rng.IntN(s.Len()))
		if a != b && s.Reachable(a, b) {
			out = append(out, [2]Index{a, b})
		}
	}
	return out
}

func BenchmarkReachable1k(b *testing.B) {
	s := randomSnapshot(b, 1000, 5000)
	rng := rand.New(rand.NewPCG(3, 3))
	pairs := make([][2]Index, 1024)
	for i := range pairs {
		pairs[i] = [2]Index{Index(rng.IntN(1000)), Index(rng.IntN(1000))}
	}
	b.ReportAllocs()
	hits := 0
	for i := 0; b.Loop(); i++ {
		p := pairs[i&1023]
		if s.Reachable(p[0], p[1]) {
			hits++
		}
	}
	_ = hits
}

func BenchmarkShortestPath1k(b *testing.B) {
	s := randomSnapshot(b, 1000, 5000)
	pairs := reachablePairs(s)
	buf := make([]Index, 0, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i&1023]
		var found bool
		buf, found, _, _ = s.ShortestPath(buf[:0], p[0], p[1])
		if !found {
			b.Fatal("no path")
		}
	}
}

// BenchmarkShortestPath1kParallel shows the pooled scratch under
// concurrent readers.
func BenchmarkShortestPath1kParallel(b *testing.B) {
	s := randomSnapshot(b, 1000, 5000)
	pairs := reachablePairs(s)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]Index, 0, 64)
		for i := 0; pb.Next(); i++ {
			p := pairs[i&1023]
			buf, _, _, _ = s.ShortestPath(buf[:0], p[0], p[1])
		}
	})
}

func BenchmarkSnapshotBuild1k(b *testing.B) {
	benchBuild(b, 1000, 5000)
}

func BenchmarkSnapshotBuild10k(b *testing.B) {
	benchBuild(b, 10000, 50000)
}

func benchBuild(b *testing.B, n, m int) {
	r := randomRegistry(b, n, m, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Snapshot(1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotBuild10kDAG is the closure's worst shape: every node its
// own component, so one full bitset each (12.5 MB at 10k).
func BenchmarkSnapshotBuild10kDAG(b *testing.B) {
	r := NewRegistry()
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 10000 {
		r.AddCapability(Node{Path: capability.Path(fmt.Sprintf("dag.n%05d", i))})
	}
	for r.EdgeCount() < 50000 {
		a, c := rng.IntN(10000), rng.IntN(10000)
		if a < c {
			r.AddEdge(NodeID(a), NodeID(c), Produces)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Snapshot(1)
	}
}

func BenchmarkSnapshotDecode10k(b *testing.B) {
	enc := randomSnapshot(b, 10000, 50000).Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup1k(b *testing.B) {
	s := randomSnapshot(b, 1000, 5000)
	names := make([]string, 1024)
	for i := range names {
		names[i] = s.Name(Index(i % 1000))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Lookup(names[i&1023]); err != nil {
			b.Fatal(err)
		}
	}
}

// Chains of 10 to 200 nodes.

func chainRegistry(tb testing.TB, n int) *Registry {
	r := NewRegistry()
	for i := range n {
		if _, err := r.AddCapability(Node{Path: capability.Path(fmt.Sprintf("chain.step%03d", i))}); err != nil {
			tb.Fatal(err)
		}
		if i > 0 {
			if _, err := r.AddEdge(NodeID(i-1), NodeID(i), Produces); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return r
}

func BenchmarkChainConstruction(b *testing.B) {
	for _, n := range []int{10, 50, 100, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				chainRegistry(b, n).Snapshot(1)
			}
		})
	}
}

func BenchmarkChainReachable(b *testing.B) {
	for _, n := range []int{10, 50, 100} {
		s, _ := chainRegistry(b, n).Snapshot(1)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !s.Reachable(0, Index(n-1)) {
					b.Fatal("chain broken")
				}
			}
		})
	}
}

func BenchmarkChainShortestPath(b *testing.B) {
	for _, n := range []int{10, 50, 100} {
		s, _ := chainRegistry(b, n).Snapshot(1)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			buf := make([]Index, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				buf, _, _, _ = s.ShortestPath(buf[:0], 0, Index(n-1))
			}
		})
	}
}

// BenchmarkChainStats measures the stats query; max depth and the other
// figures are computed once, when the snapshot is built (see
// BenchmarkChainConstruction).
func BenchmarkChainStats(b *testing.B) {
	for _, n := range []int{10, 50, 100, 200} {
		s, _ := chainRegistry(b, n).Snapshot(1)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Stats().MaxDepth != n {
					b.Fatal("depth")
				}
			}
		})
	}
}
