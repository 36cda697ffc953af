package gossip

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/codec"
)

func TestGraphPropagatesToEveryMember(t *testing.T) {
	gs := cluster(t, 3, 2, nil)
	for _, step := range []struct {
		index uint64
		caps  int
	}{{5, 3}, {9, 40}} {
		s := snapshot(t, step.index, step.caps)
		if err := gs[0].PublishGraph(s); err != nil {
			t.Fatal(err)
		}
		waitGraph(t, gs, step.index, s.Hash())
	}
	for _, g := range gs {
		snap, _, _ := g.Graph()
		if _, err := snap.Lookup("cap.c39"); err != nil {
			t.Fatalf("%s: %v", g.NodeID(), err)
		}
		m, _ := gs[0].Member(g.NodeID())
		waitFor(t, 5*time.Second, "graph version in metadata", func() bool {
			m, _ = gs[0].Member(g.NodeID())
			return m.GraphIndex == 9
		})
	}
}

func TestNewMemberReceivesGraphOnJoin(t *testing.T) {
	gs := cluster(t, 2, 0, nil)
	s := snapshot(t, 3, 5)
	if err := gs[1].PublishGraph(s); err != nil {
		t.Fatal(err)
	}
	waitGraph(t, gs, 3, s.Hash())
	e := start(t, testConfig(t, "e9", RoleEdge))
	if _, err := e.Join([]string{gs[0].Addr()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, idx, h, err := e.WaitGraph(ctx, 3)
	if err != nil || idx != 3 || h != s.Hash() || snap.Len() != 5 {
		t.Fatalf("WaitGraph: %v, index %d, hash %s", err, idx, h)
	}
}

// fetcher serves each member's current snapshot like GET /v1/graph/snapshot
// would, optionally corrupting it.
type fetcher struct {
	mu      sync.Mutex
	nodes   map[string]*Gossip
	calls   atomic.Int32
	corrupt func([]byte) []byte
}

func (f *fetcher) fetch(ctx context.Context, m Member) ([]byte, error) {
	f.calls.Add(1)
	f.mu.Lock()
	g := f.nodes[m.NodeID]
	f.mu.Unlock()
	if g == nil {
		return nil, errors.New("no such node")
	}
	s, _, _ := g.Graph()
	if s == nil {
		return nil, errors.New("no snapshot")
	}
	b := append([]byte(nil), s.Encode()...)
	if f.corrupt != nil {
		b = f.corrupt(b)
	}
	return b, nil
}

func fetchCluster(t *testing.T, f *fetcher) []*Gossip {
	f.nodes = map[string]*Gossip{}
	gs := cluster(t, 2, 1, func(c *Config) { c.Fetch = f.fetch })
	f.mu.Lock()
	for _, g := range gs {
		f.nodes[g.NodeID()] = g
	}
	f.mu.Unlock()
	return gs
}

func TestGraphFetchHook(t *testing.T) {
	f := &fetcher{}
	gs := fetchCluster(t, f)
	s := snapshot(t, 7, 4)
	if err := gs[0].PublishGraph(s); err != nil {
		t.Fatal(err)
	}
	waitGraph(t, gs, 7, s.Hash())
	if f.calls.Load() == 0 {
		t.Fatal("the fetch hook was never used")
	}
}

func TestTamperedFetchIsRejectedAndStateExchangeRecovers(t *testing.T) {
	tamper := map[string]func([]byte) []byte{
		"flipped byte": func(b []byte) []byte { b[len(b)-1] ^= 0x55; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)/2] },
		"other graph":  func([]byte) []byte { return snapshot(t, 11, 2).Encode() },
	}
	for name, corrupt := range tamper {
		t.Run(name, func(t *testing.T) {
			f := &fetcher{corrupt: corrupt}
			gs := fetchCluster(t, f)
			s := snapshot(t, 11, 6)
			if err := gs[0].PublishGraph(s); err != nil {
				t.Fatal(err)
			}
			// Every fetch is refused; the snapshot still arrives, intact,
			// by state exchange.
			waitGraph(t, gs, 11, s.Hash())
			if f.calls.Load() == 0 {
				t.Fatal("the fetch hook was never used")
			}
		})
	}
}

func TestTamperedSnapshotKeepsTheOldOne(t *testing.T) {
	g := start(t, testConfig(t, "s1", RoleServer))
	old := snapshot(t, 3, 2)
	if err := g.PublishGraph(old); err != nil {
		t.Fatal(err)
	}
	next := snapshot(t, 8, 5)
	want := versionOf(8, mustHash(t, next.Hash()))
	flipped := append([]byte(nil), next.Encode()...)
	flipped[len(flipped)/2] ^= 1
	other := snapshot(t, 8, 6)
	for name, b := range map[string][]byte{"flipped": flipped, "garbage": []byte("x"), "other": other.Encode()} {
		if err := g.adoptEncoded(b, want, "test"); !errors.Is(err, ErrSnapshotMismatch) {
			t.Errorf("%s: %v, want ErrSnapshotMismatch", name, err)
		}
		if _, idx, h := g.Graph(); idx != 3 || h != old.Hash() {
			t.Fatalf("%s: graph is now %d %s", name, idx, h)
		}
	}
	// A state exchange carrying a snapshot nobody advertises is refused
	// too, even when it is internally consistent.
	x := exchange{Version: exchangeVersion, Index: 8, Hash: want.raw(), Snapshot: next.Encode()}
	g.mergeState(codec.MustMarshal(&x))
	if _, idx, _ := g.Graph(); idx != 3 {
		t.Fatalf("unadvertised snapshot installed at %d", idx)
	}
}

func mustHash(t *testing.T, h string) []byte {
	t.Helper()
	b, err := parseHash(h)
	if err != nil {
		t.Fatal(err)
	}
	return b[:]
}

func TestPublishGraphRules(t *testing.T) {
	g := start(t, testConfig(t, "s1", RoleServer))
	s5 := snapshot(t, 5, 2)
	if err := g.PublishGraph(s5); err != nil {
		t.Fatal(err)
	}
	if err := g.PublishGraph(s5); err != nil {
		t.Fatalf("republish: %v", err)
	}
	if err := g.PublishGraph(snapshot(t, 4, 2)); !errors.Is(err, ErrStaleGraph) {
		t.Fatalf("older: %v", err)
	}
	if err := g.PublishGraph(snapshot(t, 0, 2)); !errors.Is(err, ErrStaleGraph) {
		t.Fatalf("index 0: %v", err)
	}
	if err := g.PublishGraph(snapshot(t, 5, 3)); !errors.Is(err, ErrSnapshotMismatch) {
		t.Fatalf("same index, other graph: %v", err)
	}
	e := start(t, testConfig(t, "e1", RoleEdge))
	if err := e.PublishGraph(s5); !errors.Is(err, ErrNotServer) {
		t.Fatalf("edge publish: %v", err)
	}
}

func TestWaitGraph(t *testing.T) {
	g := start(t, testConfig(t, "s1", RoleServer))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, _, err := g.WaitGraph(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no graph: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, idx, _, err := g.WaitGraph(context.Background(), 6)
		if err == nil && idx != 6 {
			err = errors.New("wrong index")
		}
		done <- err
	}()
	for _, i := range []uint64{2, 6} {
		if err := g.PublishGraph(snapshot(t, i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _, err := g.WaitGraph(context.Background(), 100); done <- err }()
	_ = g.Shutdown()
	if err := <-done; !errors.Is(err, ErrShutdown) {
		t.Fatalf("after shutdown: %v", err)
	}
}
