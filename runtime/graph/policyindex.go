package graph

// policyIndex resolves path policies to nodes once per snapshot.
type policyIndex struct {
	count  int
	denyOf []int32 // per node: lowest deny_through policy matching it, or -1
	z, y   csr     // per node: require_through policies it is a Z / a Y of
	zNodes csr     // per policy: the nodes that are its Z
	hasReq bool
}

func buildPolicyIndex(nodes []Node, ps []PathPolicy) policyIndex {
	p := policyIndex{count: len(ps), denyOf: make([]int32, len(nodes))}
	for i := range p.denyOf {
		p.denyOf[i] = -1
	}
	var zs, ys []uint64
	for j, pol := range ps {
		sels := pol.selectors()
		for i := range nodes {
			n := &nodes[i]
			switch {
			case pol.IsDeny():
				if sels[0].match(n) && p.denyOf[i] < 0 {
					p.denyOf[i] = int32(j)
				}
			default:
				p.hasReq = true
				if sels[0].match(n) {
					zs = append(zs, pair(Index(i), Index(j)))
				}
				if sels[1].match(n) {
					ys = append(ys, pair(Index(i), Index(j)))
				}
			}
		}
	}
	p.z, p.y = newCSR(len(nodes), zs, false), newCSR(len(nodes), ys, false)
	p.zNodes = newCSR(len(ps), zs, true)
	return p
}

// denied reports whether a deny_through policy matches v.
func (p *policyIndex) denied(v Index) bool { return p.denyOf[v] >= 0 }

// violation returns the lowest index of a policy the path violates, or -1.
// seen must have one zeroed entry per policy; it is left zeroed.
func (p *policyIndex) violation(path []Index, seen []int32) int {
	if p.count == 0 {
		return -1
	}
	worst := int32(-1)
	lower := func(j int32) {
		if worst < 0 || j < worst {
			worst = j
		}
	}
	for pos, v := range path {
		if d := p.denyOf[v]; d >= 0 {
			lower(d)
		}
		if j := p.enter(v, pos, seen); j >= 0 {
			lower(j)
		}
	}
	for _, v := range path {
		p.leave(v, seen)
	}
	return int(worst)
}

// enter records that a path reaches v at position pos: it counts v as a
// pass through every policy it is a Z of, then returns the lowest
// require_through policy v is a Y of whose Z the path has not passed
// (-1 if none). Position 0 is where a path starts, not something it
// reaches.
func (p *policyIndex) enter(v Index, pos int, seen []int32) int32 {
	if !p.hasReq {
		return -1
	}
	for _, j := range p.z.of(v) {
		seen[j]++
	}
	if pos == 0 {
		return -1
	}
	for _, j := range p.y.of(v) {
		if seen[j] == 0 {
			return int32(j)
		}
	}
	return -1
}

// leave undoes enter's counting for v.
func (p *policyIndex) leave(v Index, seen []int32) {
	if !p.hasReq {
		return
	}
	for _, j := range p.z.of(v) {
		seen[j]--
	}
}

// feasible is a quick necessary condition for an allowed path from a to b:
// for every require_through policy b is a Y of, some Z lies on a chain from
// a to b (or is a itself).
func (p *policyIndex) feasible(reach *closure, a, b Index) bool {
	if !p.hasReq {
		return true
	}
	for _, j := range p.y.of(b) {
		ok := false
		for _, z := range p.zNodes.of(j) {
			if z == a || z == b || reach.has(a, z) && reach.has(z, b) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
