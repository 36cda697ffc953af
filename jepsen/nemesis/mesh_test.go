package nemesis

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// threeNodes builds a mesh over three echo servers, one address each.
func threeNodes(t *testing.T) (*Mesh, map[string]string) {
	t.Helper()
	real := map[string]string{}
	var eps []Endpoint
	for _, id := range []string{"n1", "n2", "n3"} {
		real[id] = echoServer(t)
		eps = append(eps, Endpoint{ID: id, Addrs: []string{real[id]}})
	}
	m, err := NewMesh(eps, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, real
}

// proxyFor resolves node from's dial of node to's real address.
func proxyFor(t *testing.T, m *Mesh, real map[string]string, from, to string) string {
	t.Helper()
	for _, e := range m.DialMap(from) {
		k, v, _ := strings.Cut(e, "=")
		if k == real[to] {
			return v
		}
	}
	t.Fatalf("no dial map entry %s -> %s", from, to)
	return ""
}

func TestMeshDialMap(t *testing.T) {
	m, real := threeNodes(t)
	dm := m.DialMap("n1")
	if len(dm) != 2 || !slices.IsSorted(dm) {
		t.Fatalf("n1 dial map %v: want 2 sorted entries", dm)
	}
	for _, e := range dm {
		if strings.HasPrefix(e, real["n1"]+"=") {
			t.Fatalf("n1 maps its own address: %v", dm)
		}
	}
	if a, b := proxyFor(t, m, real, "n1", "n2"), proxyFor(t, m, real, "n3", "n2"); a == b {
		t.Fatalf("n1->n2 and n3->n2 share proxy %s", a)
	}
	mustEcho(t, dial(t, proxyFor(t, m, real, "n1", "n2")), "through the mesh")
}

func TestMeshOneWayCut(t *testing.T) {
	m, real := threeNodes(t)
	if err := m.Apply(OneWay([]string{"n1"}, []string{"n2"}), Fault{Mode: Blackhole}); err != nil {
		t.Fatal(err)
	}
	if got := m.Faulted(); !slices.Equal(got, []Pair{{"n1", "n2"}}) {
		t.Fatalf("faulted %v", got)
	}
	c := dial(t, proxyFor(t, m, real, "n1", "n2"))
	if _, err := roundTrip(c, []byte("x"), 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("n1->n2 under one-way cut: %v, want timeout", err)
	}
	mustEcho(t, dial(t, proxyFor(t, m, real, "n2", "n1")), "the other way passes")
	mustEcho(t, dial(t, proxyFor(t, m, real, "n1", "n3")), "other links pass")
	m.Heal()
	if len(m.Faulted()) != 0 {
		t.Fatalf("after heal: %v", m.Faulted())
	}
	mustEcho(t, dial(t, proxyFor(t, m, real, "n1", "n2")), "healed")
}

func TestMeshAddAndErrors(t *testing.T) {
	m, _ := threeNodes(t)
	if err := m.Add(Endpoint{ID: "n4", Addrs: []string{echoServer(t)}}); err != nil {
		t.Fatal(err)
	}
	if len(m.DialMap("n4")) != 3 || len(m.DialMap("n1")) != 3 {
		t.Fatalf("after adding n4: %v / %v", m.DialMap("n4"), m.DialMap("n1"))
	}
	if err := m.Add(Endpoint{ID: "n4"}); err == nil {
		t.Fatal("adding n4 twice succeeded")
	}
	if err := m.Set("n1", "n9", Fault{Mode: Blackhole}); err == nil {
		t.Fatal("set on an unknown link succeeded")
	}
}

func TestPartitionShapes(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	rng := rand.New(rand.NewPCG(1, 2))
	t.Logf("seed 1,2")
	cut, _ := MajorityMinority(ids, rng)
	if len(cut) != 2*2*3 {
		t.Fatalf("majority/minority of 5 cuts %d links, want 12", len(cut))
	}
	if c := Isolate(ids, "n3"); len(c) != 8 || !cutHas(c, "n3", "n1") || !cutHas(c, "n1", "n3") || cutHas(c, "n1", "n2") {
		t.Fatalf("isolate n3: %v", c)
	}
	if c := OneWay([]string{"n1"}, []string{"n2", "n3"}); len(c) != 2 || cutHas(c, "n2", "n1") {
		t.Fatalf("one way: %v", c)
	}
	bridge, desc := Bridge(ids, rng)
	if len(bridge) != 2*2*2 {
		t.Fatalf("bridge %s cuts %v", desc, bridge)
	}
	touched := map[string]bool{}
	for _, p := range bridge {
		touched[p.From], touched[p.To] = true, true
	}
	if len(touched) != 4 {
		t.Fatalf("bridge %s: the bridge node must keep every link: %v", desc, bridge)
	}
	if c, _ := Bridge(ids[:2], rng); c != nil {
		t.Fatalf("bridge of 2 nodes: %v", c)
	}
}

func cutHas(c Cut, from, to string) bool { return slices.Contains(c, Pair{from, to}) }
