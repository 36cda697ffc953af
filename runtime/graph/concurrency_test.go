package graph

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Many goroutines query one snapshot at once (run with -race); every answer
// must equal the one computed alone.
func TestConcurrentReaders(t *testing.T) {
	seed := seedFor(t, 0)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	r := randomGraph(t, rng, 200, 800, true)
	s, _ := r.Snapshot(1)
	type query struct{ a, b Index }
	queries := make([]query, 300)
	want := make([][]Index, len(queries))
	for i := range queries {
		queries[i] = query{Index(rng.IntN(200)), Index(rng.IntN(200))}
		want[i], _, _, _ = s.ShortestPath(nil, queries[i].a, queries[i].b)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			var buf []Index
			for k := range queries {
				i := (k*7 + g*31) % len(queries)
				q := queries[i]
				buf, _, _, _ = s.ShortestPath(buf[:0], q.a, q.b)
				if !slices.Equal(buf, want[i]) {
					errs <- "shortest path differs under concurrency"
					return
				}
				s.AllPaths(q.a, q.b, 4, func([]Index, int) bool { return true })
				_ = s.Encode()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
