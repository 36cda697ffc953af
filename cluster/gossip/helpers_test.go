package gossip

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/graph"
)

// testLogWriter sends logs to t.Log until the test ends.
type testLogWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB, name string) hclog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: w})
}

var portSeq atomic.Int32

// testConfig is a fast-timing config on a kernel-picked loopback port.
func testConfig(t testing.TB, id string, role Role) Config {
	n := portSeq.Add(1)
	c := Config{
		NodeID: id, Role: role, BindAddr: "127.0.0.1:0",
		APIAddr:           fmt.Sprintf("127.0.0.1:%d", 18000+n),
		Timing:            FastTiming(),
		MetaInterval:      50 * time.Millisecond,
		GraphSyncInterval: 200 * time.Millisecond,
		Logger:            testLogger(t, id),
	}
	if role == RoleServer {
		c.RaftAddr = fmt.Sprintf("127.0.0.1:%d", 17000+n)
	}
	return c
}

func start(t testing.TB, c Config) *Gossip {
	t.Helper()
	g, err := New(c)
	if err != nil {
		t.Fatalf("start %s: %v", c.NodeID, err)
	}
	t.Cleanup(func() { _ = g.Shutdown() })
	return g
}

// cluster starts servers s1..sN and edges e1..eM, all joined to s1.
func cluster(t testing.TB, servers, edges int, tweak func(*Config)) []*Gossip {
	t.Helper()
	var out []*Gossip
	add := func(id string, role Role) {
		c := testConfig(t, id, role)
		if tweak != nil {
			tweak(&c)
		}
		g := start(t, c)
		if len(out) > 0 {
			if _, err := g.Join([]string{out[0].Addr()}); err != nil {
				t.Fatalf("%s join: %v", id, err)
			}
		}
		out = append(out, g)
	}
	for i := 1; i <= servers; i++ {
		add(fmt.Sprintf("s%d", i), RoleServer)
	}
	for i := 1; i <= edges; i++ {
		add(fmt.Sprintf("e%d", i), RoleEdge)
	}
	waitConverged(t, out)
	return out
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func aliveCount(g *Gossip) int {
	n := 0
	for _, m := range g.Members() {
		if m.State == StateAlive {
			n++
		}
	}
	return n
}

func waitConverged(t testing.TB, gs []*Gossip) {
	t.Helper()
	waitFor(t, 10*time.Second, "membership to converge", func() bool {
		for _, g := range gs {
			if aliveCount(g) != len(gs) {
				return false
			}
		}
		return true
	})
}

// memberState returns what g thinks of member id.
func memberState(g *Gossip, id string) MemberState {
	m, ok := g.Member(id)
	if !ok {
		return ""
	}
	return m.State
}

// snapshot builds a graph snapshot with capabilities cap.0..cap.n-1.
func snapshot(t testing.TB, index uint64, n int) *graph.Snapshot {
	t.Helper()
	r := graph.NewRegistry()
	for i := range n {
		if _, err := r.AddCapability(graph.Node{Path: capability.Path(fmt.Sprintf("cap.c%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := r.Snapshot(index)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitGraph waits until every node holds the snapshot with the given index
// and hash.
func waitGraph(t testing.TB, gs []*Gossip, index uint64, hash string) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("graph %d on every node", index), func() bool {
		for _, g := range gs {
			if _, i, h := g.Graph(); i != index || h != hash {
				return false
			}
		}
		return true
	})
}
