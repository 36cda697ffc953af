package graph

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Tests of the graph's query behaviours: statistics, domination, classes,
// duplicates and composition, each pinned down where a naive version goes
// wrong.

func TestEmptyStats(t *testing.T) {
	st := newBuild(t).snap().Stats()
	if st.Nodes != 0 || st.Edges != 0 || st.AvgDegree != 0 || st.MaxDepth != 0 {
		t.Fatalf("empty stats %+v", st)
	}
}

func TestNodeIDsIncrease(t *testing.T) {
	b := newBuild(t)
	for i, n := range []string{"a", "b", "c"} {
		if id := b.node(n); id != NodeID(i) {
			t.Fatalf("node %s got id %d, want %d", n, id, i)
		}
	}
}

func TestAddEdgeToMissingNode(t *testing.T) {
	b := newBuild(t, "a")
	_, err := b.r.AddEdge(0, 5, Produces)
	wantErr(t, err, ErrNodeNotFound)
	_, err = b.r.AddEdge(9, 0, Produces)
	wantErr(t, err, ErrNodeNotFound)
	if b.r.EdgeCount() != 0 {
		t.Fatal("a failed edge was added")
	}
}

func TestNodeByCapability(t *testing.T) {
	b := newBuild(t, "a", "b")
	id, ok := b.r.NodeByCapability(capability.FromPath("cap.b"))
	if !ok || id != 1 {
		t.Fatalf("NodeByCapability = %d, %v", id, ok)
	}
	s := b.snap()
	i, ok := s.IndexOfCapability(capability.FromPath("cap.b"))
	if !ok || s.Node(i).ID != 1 {
		t.Fatalf("IndexOfCapability = %d, %v", i, ok)
	}
	if _, ok := b.r.NodeByCapability(capability.FromPath("cap.z")); ok {
		t.Fatal("found a capability that was never added")
	}
}

func TestInOutEdgeCounts(t *testing.T) {
	b := newBuild(t, "a", "b", "c").edges(Produces, "a", "b", "c").edges(Requires, "a", "c")
	if got := len(b.r.Outgoing(b.id("a"))); got != 2 {
		t.Fatalf("out(a) = %d", got)
	}
	if got := len(b.r.Incoming(b.id("c"))); got != 2 {
		t.Fatalf("in(c) = %d", got)
	}
	if got := len(b.r.Incoming(b.id("a"))); got != 0 {
		t.Fatalf("in(a) = %d", got)
	}
}

func TestReachability(t *testing.T) {
	s := newBuild(t, "a", "b", "c", "d").edges(Produces, "a", "b", "c").snap()
	a, c, d := at(t, s, "a"), at(t, s, "c"), at(t, s, "d")
	if !s.Reachable(a, c) || s.Reachable(c, a) {
		t.Fatal("a->c must hold and c->a must not")
	}
	for i := range Index(s.Len()) {
		if !s.Reachable(i, i) {
			t.Fatalf("%s does not reach itself", s.Name(i))
		}
	}
	if s.Reachable(a, d) || s.Reachable(d, a) {
		t.Fatal("d is isolated")
	}
}

// The original followed every edge type; equivalence and dominance are
// relations, not steps, so they do not make anything reachable.
func TestReachabilityFollowsProducesAndRequiresOnly(t *testing.T) {
	b := newBuild(t, "a", "b", "c", "d", "e", "f")
	b.edges(Produces, "a", "b").edges(Requires, "b", "c").edges(Equivalent, "c", "d").edges(Dominates, "c", "e")
	if _, err := b.r.AddEdgeWith(Edge{From: b.id("c"), To: b.id("f"), Type: Custom, Name: "audits"}); err != nil {
		t.Fatal(err)
	}
	s := b.snap()
	a := at(t, s, "a")
	for name, want := range map[string]bool{"b": true, "c": true, "d": false, "e": false, "f": false} {
		if got := s.Reachable(a, at(t, s, name)); got != want {
			t.Errorf("reachable(a, %s) = %v, want %v", name, got, want)
		}
	}
}

func TestShortestPath(t *testing.T) {
	b := newBuild(t, "a", "b", "c", "d", "e").edges(Produces, "a", "b", "c", "d")
	wantPath(t, b.snap(), "a", "d", "a", "b", "c", "d")
	wantPath(t, b.snap(), "a", "a", "a")
	wantPath(t, b.snap(), "a", "e")
	wantPath(t, b.snap(), "d", "a")
	b.edges(Requires, "a", "c")
	wantPath(t, b.snap(), "a", "c", "a", "c")
	wantPath(t, b.snap(), "a", "d", "a", "c", "d")
}

// Ties are broken by name, not by insertion order.
func TestShortestPathTieBreakByName(t *testing.T) {
	s := newBuild(t, "a", "z", "m", "d").edges(Produces, "a", "z", "d").edges(Produces, "a", "m", "d").snap()
	wantPath(t, s, "a", "d", "a", "m", "d")
}

func TestAllPathsDiamond(t *testing.T) {
	s := newBuild(t, "a", "b", "c", "d").edges(Produces, "a", "b", "d").edges(Produces, "a", "c", "d").snap()
	res, err := Execute(s, Request{Op: OpPaths, From: "cap.a", To: "cap.d", MaxDepth: 5})
	if err != nil {
		t.Fatal(err)
	}
	paths := res.(PathsResult).Paths
	if len(paths) != 2 || len(paths[0]) != 3 || len(paths[1]) != 3 {
		t.Fatalf("diamond paths %v", paths)
	}
	if strings.Join(paths[0], ",") != "cap.a,cap.b,cap.d" {
		t.Fatalf("paths not in order: %v", paths)
	}
	short, _ := Execute(s, Request{Op: OpPaths, From: "cap.a", To: "cap.d", MaxDepth: 2})
	if got := short.(PathsResult).Paths; len(got) != 0 {
		t.Fatalf("max depth 2 (nodes) still found %v", got)
	}
}

func TestDominanceByEffects(t *testing.T) {
	b := newBuild(t)
	b.node("rw", capability.ReadOnly, capability.MutateState)
	b.node("r", capability.ReadOnly)
	b.node("r2", capability.ReadOnly)
	b.node("none")
	s := b.snap()
	rw, r, r2, none := at(t, s, "rw"), at(t, s, "r"), at(t, s, "r2"), at(t, s, "none")
	if !s.Dominates(rw, r) || s.Dominates(r, rw) {
		t.Fatal("{read_only, mutate_state} must dominate {read_only} and not the reverse")
	}
	// Domination is strict: equal effect sets do not dominate each other.
	if s.Dominates(r, r) || s.Dominates(r, r2) || s.Dominates(r2, r) {
		t.Fatal("dominance must be strict")
	}
	if !s.Dominates(r, none) || s.Dominates(none, r) {
		t.Fatal("a node without effects is dominated by any node with some")
	}
}

func TestDominanceByExplicitEdge(t *testing.T) {
	b := newBuild(t, "a", "b").edges(Dominates, "b", "a")
	s := b.snap()
	if !s.Dominates(at(t, s, "b"), at(t, s, "a")) || s.Dominates(at(t, s, "a"), at(t, s, "b")) {
		t.Fatal("explicit dominates edge is directed")
	}
}

func TestEquivalentEdge(t *testing.T) {
	s := newBuild(t, "a", "b", "c").edges(Equivalent, "a", "b").snap()
	a, b, c := at(t, s, "a"), at(t, s, "b"), at(t, s, "c")
	if !s.Equivalent(a, b) || !s.Equivalent(b, a) || !s.Equivalent(c, c) || s.Equivalent(a, c) {
		t.Fatal("equivalence must be the symmetric, reflexive closure of the edges")
	}
}

func TestClasses(t *testing.T) {
	s := newBuild(t, "a", "b", "c", "d").edges(Equivalent, "a", "b").edges(Equivalent, "c", "d").snap()
	res, _ := Execute(s, Request{Op: OpClasses})
	got := res.(ClassesResult).Classes
	if len(got) != 2 || strings.Join(got[0], ",") != "cap.a,cap.b" || strings.Join(got[1], ",") != "cap.c,cap.d" {
		t.Fatalf("classes %v", got)
	}
}

// Classes are transitive and do not depend on map order: union-find gives
// one class however the edges are ordered.
func TestClassesTransitiveAndDeterministic(t *testing.T) {
	orders := [][][2]string{
		{{"a", "b"}, {"b", "c"}, {"d", "e"}},
		{{"e", "d"}, {"c", "b"}, {"b", "a"}},
		{{"b", "c"}, {"d", "e"}, {"a", "b"}},
	}
	var first string
	for _, order := range orders {
		b := newBuild(t, "e", "c", "a", "d", "b", "f")
		for _, e := range order {
			b.edges(Equivalent, e[0], e[1])
		}
		var buf strings.Builder
		for _, c := range b.snap().Classes() {
			buf.WriteString(strings.Join(short(b.snap(), c), ",") + ";")
		}
		if first == "" {
			first = buf.String()
		}
		if buf.String() != first || first != "a,b,c;d,e;f;" {
			t.Fatalf("classes %q, want a,b,c;d,e;f; every time", buf.String())
		}
	}
}

func TestStatsChain(t *testing.T) {
	st := newBuild(t, "a", "b", "c", "d", "e").edges(Produces, "a", "b", "c", "d", "e").snap().Stats()
	if st.Nodes != 5 || st.Edges != 4 || st.AvgDegree <= 0 || st.MaxDepth != 5 {
		t.Fatalf("chain stats %+v", st)
	}
	if one := newBuild(t, "a").snap().Stats(); one.MaxDepth != 1 {
		t.Fatalf("single node depth %d", one.MaxDepth)
	}
}

// A cycle counts once: the depth bound is computed in linear time, not by
// an exponential walk of every path.
func TestStatsDepthWithCycle(t *testing.T) {
	st := newBuild(t, "a", "b", "c", "d").edges(Produces, "a", "b", "c", "b").edges(Produces, "c", "d").snap().Stats()
	if st.MaxDepth != 3 || st.Components != 3 || st.LargestComponent != 2 {
		t.Fatalf("stats %+v, want depth 3 over components {a} {b,c} {d}", st)
	}
}

func TestDOT(t *testing.T) {
	b := newBuild(t, "a", "b").edges(Produces, "a", "b")
	if _, err := b.r.AddEdgeWith(Edge{From: 1, To: 0, Type: Custom, Name: "say \"hi\" \\ \n}"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.snap().WriteDOT(&buf); err != nil {
		t.Fatal(err)
	}
	want := "digraph CapabilityGraph {\n" +
		"  n0 [label=\"cap.a\"];\n" +
		"  n1 [label=\"cap.b\"];\n" +
		"  n0 -> n1 [label=\"produces\"];\n" +
		"  n1 -> n0 [label=\"say \\\"hi\\\" \\\\ \\n}\"];\n" +
		"}\n"
	if buf.String() != want {
		t.Fatalf("DOT:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestEdgeTypesKept(t *testing.T) {
	b := newBuild(t, "a", "b")
	for typ := range numEdgeTypes {
		e := Edge{From: 0, To: 1, Type: typ, Weight: 2.5}
		if typ == Custom {
			e.Name = "x"
		}
		id, err := b.r.AddEdgeWith(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := b.r.Edge(id); got.Type != typ || got.Weight != 2.5 {
			t.Fatalf("edge %d kept as %+v", id, got)
		}
	}
	if st := b.snap().Stats(); st.EdgesByType["custom"] != 1 || st.Edges != int(numEdgeTypes) {
		t.Fatalf("stats %+v", st)
	}
}

// Registering a capability twice is an error: it must not overwrite the
// index and orphan the old node.
func TestDuplicateCapabilityIsAnError(t *testing.T) {
	b := newBuild(t, "a")
	_, err := b.r.AddCapability(Node{Path: "cap.a", Description: "again"})
	wantErr(t, err, ErrDuplicateCapability)
	if b.r.Len() != 1 {
		t.Fatal("duplicate was added")
	}
	if n, _ := b.r.Node(0); n.Description != "" {
		t.Fatal("duplicate overwrote the original")
	}
	// Another version of the same path is a different capability.
	if _, err := b.r.AddCapability(Node{Path: "cap.a", Version: "2.0.0"}); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateEdgeIsAnError(t *testing.T) {
	b := newBuild(t, "a", "b").edges(Produces, "a", "b")
	_, err := b.r.AddEdge(0, 1, Produces)
	wantErr(t, err, ErrDuplicateEdge)
	if _, err := b.r.AddEdge(0, 1, Requires); err != nil {
		t.Fatal("another type between the same nodes must be allowed:", err)
	}
}

// Composition follows the schemas: a node is not a one-node
// "composition" of every pair of types.
func TestComposeIsReal(t *testing.T) {
	b := newBuild(t)
	b.typed("parse", "Text", "Spec")
	b.typed("create", "Spec", "User")
	b.typed("notify", "User", "Receipt")
	b.typed("render", "Spec", "Html") // a dead end
	b.typed("shortcut", "Text", "User")
	b.edges(Produces, "parse", "create", "notify").edges(Produces, "parse", "render")
	s := b.snap()
	cases := []struct {
		from, to string
		want     string
	}{
		{"Text", "Receipt", "parse,create,notify"},
		{"Text", "Spec", "parse"},
		{"Spec", "Receipt", "create,notify"},
		{"Text", "Html", "parse,render"},
		{"Receipt", "Text", ""},
		{"Html", "User", ""},
	}
	for _, c := range cases {
		p, found, _, err := s.Compose(nil, refSchema(c.from), refSchema(c.to))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(short(s, p), ","); got != c.want || found != (c.want != "") {
			t.Errorf("compose %s -> %s = %q, want %q", c.from, c.to, got, c.want)
		}
	}
	// "shortcut" turns Text into User on its own but nothing takes it on to
	// Receipt, since no produces edge leaves it.
	p, _, _, _ := s.Compose(nil, refSchema("Text"), refSchema("User"))
	if got := strings.Join(short(s, p), ","); got != "shortcut" {
		t.Errorf("compose Text -> User = %q, want the one-node shortcut", got)
	}
}

// A produces edge whose target cannot take the source's output does not
// carry a composition.
func TestComposeSkipsIncompatibleEdges(t *testing.T) {
	b := newBuild(t)
	b.typed("a", "X", "Y")
	b.typed("b", "Z", "W")
	b.edges(Produces, "a", "b")
	s := b.snap()
	if _, found, _, _ := s.Compose(nil, refSchema("X"), refSchema("W")); found {
		t.Fatal("composed across an incompatible edge")
	}
	if st := s.Stats(); st.IncompatibleProduces != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !s.Reachable(at(t, s, "a"), at(t, s, "b")) {
		t.Fatal("the edge is still followed for reachability")
	}
}

// Composition uses structural schema compatibility: an object producer
// feeds a consumer that requires a subset of its fields.
func TestComposeObjectSchemas(t *testing.T) {
	b := newBuild(t)
	wide := &capability.Schema{Type: capability.KindObject, Properties: map[string]*capability.Schema{
		"name": capability.PrimitiveSchema("string"), "age": capability.PrimitiveSchema("number")}}
	narrow := &capability.Schema{Type: capability.KindObject, Properties: map[string]*capability.Schema{
		"name": capability.PrimitiveSchema("string")}}
	for _, n := range []Node{
		{Path: "person.load", Input: capability.PrimitiveSchema("string"), Output: wide},
		{Path: "person.greet", Input: narrow, Output: capability.PrimitiveSchema("string")},
	} {
		if _, err := b.r.AddCapability(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.r.AddEdge(0, 1, Produces); err != nil {
		t.Fatal(err)
	}
	s := b.snap()
	p, found, _, _ := s.Compose(nil, capability.PrimitiveSchema("string"), capability.PrimitiveSchema("string"))
	if got := strings.Join(s.namesOf(p), ","); !found || got != "person.load,person.greet" {
		t.Fatalf("compose string -> string = %v", got)
	}
	p, found, _, _ = s.Compose(nil, capability.PrimitiveSchema("string"), narrow)
	if !found || s.Name(p[0]) != "person.load" {
		t.Fatalf("compose string -> {name} = %v", p)
	}
}
