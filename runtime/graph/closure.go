package graph

// closure is the transitive closure of the followed edges: one bitset of
// reachable nodes per strongly connected component (all members of a
// component reach the same nodes), so memory is components × nodes / 8
// bytes and a reachability test is one bit test.
type closure struct {
	words    int     // uint64 words per bitset
	comp     []int32 // component of each node
	bits     []uint64
	ncomp    int
	largest  int // size of the largest component
	maxDepth int // longest chain of components, in components
}

func (c *closure) has(a, b Index) bool {
	return c.bits[int(c.comp[a])*c.words+int(b>>6)]&(1<<(uint(b)&63)) != 0
}

// buildClosure finds the components with Tarjan's algorithm, which numbers
// them in reverse topological order (a component after every component it
// reaches), then fills each bitset from its members and its successors'
// finished bitsets.
func buildClosure(n int, g *csr) closure {
	comp, ncomp := tarjan(n, g)
	c := closure{words: (n + 63) / 64, comp: comp, ncomp: ncomp}
	c.bits = make([]uint64, ncomp*c.words)
	members := groupByComponent(comp, ncomp)
	depth := make([]int, ncomp)
	merged := make([]int32, ncomp) // last component that merged this one, +1
	for k := range ncomp {
		row := c.bits[k*c.words : (k+1)*c.words]
		for _, v := range members.of(Index(k)) {
			row[v>>6] |= 1 << (uint(v) & 63)
			for _, w := range g.of(v) {
				if cw := comp[w]; int(cw) != k && merged[cw] != int32(k)+1 {
					merged[cw] = int32(k) + 1
					orInto(row, c.bits[int(cw)*c.words:(int(cw)+1)*c.words])
					depth[k] = max(depth[k], depth[cw])
				}
			}
		}
		depth[k]++
		c.maxDepth = max(c.maxDepth, depth[k])
		c.largest = max(c.largest, len(members.of(Index(k))))
	}
	return c
}

func orInto(dst, src []uint64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] |= src[i]
	}
}

// groupByComponent lists each component's members, ascending.
func groupByComponent(comp []int32, ncomp int) csr {
	c := csr{off: make([]int32, ncomp+1), adj: make([]Index, len(comp))}
	for _, k := range comp {
		c.off[k+1]++
	}
	for k := range ncomp {
		c.off[k+1] += c.off[k]
	}
	next := make([]int32, ncomp)
	copy(next, c.off[:ncomp])
	for v, k := range comp {
		c.adj[next[k]] = Index(v)
		next[k]++
	}
	return c
}

// tarjan returns each node's strongly connected component and the number
// of components. It is iterative, so deep graphs cannot exhaust the stack.
func tarjan(n int, g *csr) ([]int32, int) {
	t := tarjanState{
		g: g, index: make([]int32, n), low: make([]int32, n),
		onStack: make([]bool, n), comp: make([]int32, n),
	}
	for v := range n {
		if t.index[v] == 0 {
			t.run(Index(v))
		}
	}
	return t.comp, t.ncomp
}

type tarjanState struct {
	g       *csr
	index   []int32 // discovery order + 1; 0 = unvisited
	low     []int32
	onStack []bool
	stack   []Index
	calls   []tarjanFrame
	comp    []int32
	counter int32
	ncomp   int
}

type tarjanFrame struct {
	v    Index
	next int32 // next position in v's adjacency
}

func (t *tarjanState) visit(v Index) {
	t.counter++
	t.index[v], t.low[v] = t.counter, t.counter
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	t.calls = append(t.calls, tarjanFrame{v, t.g.off[v]})
}

func (t *tarjanState) run(root Index) {
	t.visit(root)
	for len(t.calls) > 0 {
		f := &t.calls[len(t.calls)-1]
		v := f.v
		if f.next < t.g.off[v+1] {
			w := t.g.adj[f.next]
			f.next++
			if t.index[w] == 0 {
				t.visit(w)
			} else if t.onStack[w] {
				t.low[v] = min(t.low[v], t.index[w])
			}
			continue
		}
		t.finish(v)
	}
}

// finish closes v's frame: it emits v's component if v is its root and
// passes v's low link to its caller.
func (t *tarjanState) finish(v Index) {
	t.calls = t.calls[:len(t.calls)-1]
	if t.low[v] == t.index[v] {
		for {
			w := t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.onStack[w] = false
			t.comp[w] = int32(t.ncomp)
			if w == v {
				break
			}
		}
		t.ncomp++
	}
	if len(t.calls) > 0 {
		u := t.calls[len(t.calls)-1].v
		t.low[u] = min(t.low[u], t.low[v])
	}
}
