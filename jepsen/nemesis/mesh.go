package nemesis

import (
	"fmt"
	"hash/fnv"
	"sort"
	"sync"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// ErrUnknownNode: a node id the mesh does not know.
var ErrUnknownNode = cnverr.New(cnverr.NotFound, "unknown node")

// Endpoint is a node and the real addresses its peers dial (Raft, HTTP).
type Endpoint struct {
	ID    string
	Addrs []string
}

// Pair is the directed link from one node to another: the connections From
// opens to To.
type Pair struct{ From, To string }

func (p Pair) String() string { return p.From + "->" + p.To }

// Mesh owns one proxy per directed pair of nodes and per dialled address.
// It is safe for concurrent use.
type Mesh struct {
	mu      sync.Mutex
	seed    int64
	nodes   []Endpoint
	proxies map[Pair][]*Proxy
	closed  bool
}

// NewMesh builds proxies for every directed pair of eps.
func NewMesh(eps []Endpoint, seed int64) (*Mesh, error) {
	m := &Mesh{seed: seed, proxies: make(map[Pair][]*Proxy)}
	for _, ep := range eps {
		if err := m.Add(ep); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Add brings a node into the mesh: proxies from it to every node and from
// every node to it. Adding a known id is an error.
func (m *Mesh) Add(ep Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, n := range m.nodes {
		if n.ID == ep.ID {
			return fmt.Errorf("mesh: node %s already added", ep.ID)
		}
	}
	for _, n := range m.nodes {
		for _, pr := range []struct {
			pair Pair
			to   Endpoint
		}{{Pair{ep.ID, n.ID}, n}, {Pair{n.ID, ep.ID}, ep}} {
			if err := m.link(pr.pair, pr.to); err != nil {
				return err
			}
		}
	}
	m.nodes = append(m.nodes, ep)
	return nil
}

func (m *Mesh) link(pair Pair, to Endpoint) error {
	for i, addr := range to.Addrs {
		p, err := NewProxy(addr, m.pairSeed(pair, i))
		if err != nil {
			return err
		}
		m.proxies[pair] = append(m.proxies[pair], p)
	}
	return nil
}

// pairSeed derives a proxy's seed from the run seed and its link.
func (m *Mesh) pairSeed(pair Pair, i int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", m.seed, pair, i)
	return h.Sum64()
}

// IDs returns the node ids in the order they were added.
func (m *Mesh) IDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.nodes))
	for i, n := range m.nodes {
		ids[i] = n.ID
	}
	return ids
}

// DialMap returns node from's test dial map: "REAL=PROXY" for every address
// of every other node, sorted.
func (m *Mesh) DialMap(from string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for pair, ps := range m.proxies {
		if pair.From != from {
			continue
		}
		for _, p := range ps {
			out = append(out, p.Target()+"="+p.Addr())
		}
	}
	sort.Strings(out)
	return out
}

// Set puts the link from → to into fault f.
func (m *Mesh) Set(from, to string, f Fault) error {
	m.mu.Lock()
	ps, ok := m.proxies[Pair{from, to}]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: link %s->%s", ErrUnknownNode, from, to)
	}
	for _, p := range ps {
		p.Set(f)
	}
	return nil
}

// Apply heals every link, then puts the links of cut into fault f.
func (m *Mesh) Apply(cut Cut, f Fault) error {
	m.Heal()
	for _, pair := range cut {
		if err := m.Set(pair.From, pair.To, f); err != nil {
			return err
		}
	}
	return nil
}

// Heal sets every link to Pass.
func (m *Mesh) Heal() {
	for _, p := range m.all() {
		p.Set(Fault{Mode: Pass})
	}
}

// Faulted returns the links whose proxies are not passing, sorted.
func (m *Mesh) Faulted() []Pair {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Pair
	for pair, ps := range m.proxies {
		if len(ps) > 0 && ps[0].Fault().Mode != Pass {
			out = append(out, pair)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (m *Mesh) all() []*Proxy {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Proxy
	for _, ps := range m.proxies {
		out = append(out, ps...)
	}
	return out
}

// Close closes every proxy and frees its port.
func (m *Mesh) Close() {
	ps := m.all()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
}
