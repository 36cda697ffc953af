package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

// build is a small test graph described by names ("a" becomes capability
// "cap.a") and edges.
type build struct {
	t testing.TB
	r *Registry
}

func newBuild(t testing.TB, names ...string) *build {
	t.Helper()
	b := &build{t: t, r: NewRegistry()}
	for _, n := range names {
		b.node(n)
	}
	return b
}

func capPath(name string) string { return "cap." + name }

func (b *build) node(name string, effects ...capability.EffectType) NodeID {
	b.t.Helper()
	id, err := b.r.AddCapability(Node{Path: capability.Path(capPath(name)), Effects: effects})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

func (b *build) typed(name, in, out string) NodeID {
	b.t.Helper()
	n := Node{Path: capability.Path(capPath(name))}
	if in != "" {
		n.Input = refSchema(in)
	}
	if out != "" {
		n.Output = refSchema(out)
	}
	id, err := b.r.AddCapability(n)
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

func (b *build) id(name string) NodeID {
	b.t.Helper()
	id, err := b.r.Resolve(capPath(name))
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// edges adds edges of type typ along each chain "a", "b", "c" → a->b->c.
func (b *build) edges(typ EdgeType, chain ...string) *build {
	b.t.Helper()
	for i := 0; i+1 < len(chain); i++ {
		if _, err := b.r.AddEdge(b.id(chain[i]), b.id(chain[i+1]), typ); err != nil {
			b.t.Fatal(err)
		}
	}
	return b
}

func (b *build) policy(p PathPolicy) *build {
	b.t.Helper()
	if err := b.r.AddPolicy(p); err != nil {
		b.t.Fatal(err)
	}
	return b
}

func (b *build) snap() *Snapshot {
	b.t.Helper()
	s, err := b.r.Snapshot(7)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func at(t testing.TB, s *Snapshot, name string) Index {
	t.Helper()
	i, err := s.Lookup(capPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// short renders indexes as the test's short names.
func short(s *Snapshot, p []Index) []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p))
	for i, v := range p {
		out[i] = s.Name(v)[len("cap."):]
	}
	return out
}

func wantPath(t testing.TB, s *Snapshot, from, to string, want ...string) {
	t.Helper()
	p, found, _, err := s.ShortestPath(nil, at(t, s, from), at(t, s, to))
	if err != nil {
		t.Fatal(err)
	}
	if found != (want != nil) || !slices.Equal(short(s, p), want) {
		t.Fatalf("path %s -> %s = %v (found %v), want %v", from, to, short(s, p), found, want)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

// refSchema is a reference schema to a named type.
func refSchema(name string) *capability.Schema {
	return &capability.Schema{Type: capability.KindReference, Ref: name}
}
