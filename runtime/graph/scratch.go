package graph

// scratch is one query's working memory, pooled per snapshot so that
// queries allocate nothing in the steady state. Marks are generation
// stamps: a node is marked in this query when its stamp equals gen, so
// nothing is cleared between queries.
type scratch struct {
	gen  uint32
	f, b side
	onSP []uint32 // on a shortest path / on the DFS path
	tgt  []uint32 // a search target
	par  []Index  // BFS parent
	seen []int32  // per policy: passes through its Z on the current path
}

// side is one direction of a breadth-first search; its queue holds the
// levels back to back.
type side struct {
	adj    *csr
	mark   []uint32
	dist   []int32
	q      []Index
	starts []int32 // starts[i] is where level i begins in q
}

func newScratch(n, policies int) *scratch {
	return &scratch{
		f:    newSide(n),
		b:    newSide(n),
		onSP: make([]uint32, n),
		tgt:  make([]uint32, n),
		par:  make([]Index, n),
		seen: make([]int32, policies),
	}
}

func newSide(n int) side {
	return side{mark: make([]uint32, n), dist: make([]int32, n), q: make([]Index, 0, min(n, 1024))}
}

func (s *Snapshot) getScratch() *scratch { return s.pool.Get().(*scratch) }

func (s *Snapshot) putScratch(sc *scratch) { s.pool.Put(sc) }

// begin starts a query: a new generation, empty queues.
func (sc *scratch) begin() uint32 {
	sc.gen++
	if sc.gen == 0 {
		for _, m := range [][]uint32{sc.f.mark, sc.b.mark, sc.onSP, sc.tgt} {
			clear(m)
		}
		sc.gen = 1
	}
	return sc.gen
}

// reset empties the side and seeds level 0 with v.
func (x *side) reset(adj *csr, gen uint32, seeds ...Index) {
	x.adj, x.q, x.starts = adj, x.q[:0], append(x.starts[:0], 0)
	for _, v := range seeds {
		x.add(v, 0, gen)
	}
}

func (x *side) add(v Index, d int32, gen uint32) {
	x.mark[v], x.dist[v] = gen, d
	x.q = append(x.q, v)
}

func (x *side) has(v Index, gen uint32) bool { return x.mark[v] == gen }

// depth is the number of the deepest complete level.
func (x *side) depth() int32 { return int32(len(x.starts) - 1) }

// level returns the nodes of level i.
func (x *side) level(i int32) []Index {
	end := int32(len(x.q))
	if int(i)+1 < len(x.starts) {
		end = x.starts[i+1]
	}
	return x.q[x.starts[i]:end]
}
