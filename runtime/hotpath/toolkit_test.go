package hotpath

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/cnv-project/cnv/runtime/capability"
)

// seededRand returns a generator seeded from the test name, and logs the seed.
func seededRand(t testing.TB) *rand.Rand {
	seed := CorrelationHash(t.Name())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed>>1))
}

func TestHandles(t *testing.T) {
	if AgentHandle(7) != AgentHandle(7) || AgentHandle(7).ID() != 7 || TenantHandle(9).ID() != 9 {
		t.Fatal("handle identity")
	}
	if AgentHandle(1) == AgentHandle(2) {
		t.Fatal("distinct handles compare equal")
	}
}

func TestContextIs32Bytes(t *testing.T) {
	if n := unsafe.Sizeof(Context{}); n != 32 {
		t.Fatalf("Context is %d bytes, want 32", n)
	}
}

func TestContextFieldsAndCorrelation(t *testing.T) {
	c := Context{Agent: 1, Tenant: 2, CapIndex: 42, Flags: capability.FlagReadOnly}
	if c.Agent != 1 || c.Tenant != 2 || c.CapIndex != 42 || c.Flags != capability.FlagReadOnly || c.Correlation != 0 {
		t.Fatalf("fields: %+v", c)
	}
	a, b := c.WithCorrelation("req-123"), c.WithCorrelation("req-123")
	if a.Correlation == 0 || a.Correlation != b.Correlation {
		t.Fatalf("correlation %x %x", a.Correlation, b.Correlation)
	}
	if c.WithCorrelation("req-124").Correlation == a.Correlation {
		t.Fatal("different ids, same hash")
	}
	// FNV-1a 64 test vectors: "" is the offset basis, "a" is af63dc4c8601ec8c.
	if CorrelationHash("") != 0xcbf29ce484222325 || CorrelationHash("a") != 0xaf63dc4c8601ec8c {
		t.Fatalf("not FNV-1a 64: %x %x", CorrelationHash(""), CorrelationHash("a"))
	}
}

func TestEffectFlagChecks(t *testing.T) {
	ro, ms, pr := capability.FlagReadOnly, capability.FlagMutateState, capability.FlagPrivileged
	f := capability.Flags(0).With(ro).With(capability.FlagIdempotent)
	if !f.Has(ro) || f.Has(ms) {
		t.Fatalf("flags %#x", f)
	}
	if ro.Merge(ms) != ro|ms {
		t.Fatal("merge")
	}
	if !Within(ro, ro|ms) || Within(ro|pr, ro|ms) || !Within(0, 0) {
		t.Fatal("within")
	}
}

func TestFlagMergeIsSemilattice(t *testing.T) {
	r := seededRand(t)
	for i := 0; i < 10000; i++ {
		a, b, c := capability.Flags(r.Uint32()), capability.Flags(r.Uint32()), capability.Flags(r.Uint32())
		if a.Merge(b).Merge(c) != a.Merge(b.Merge(c)) {
			t.Fatalf("not associative: %x %x %x", a, b, c)
		}
		if a.Merge(b) != b.Merge(a) {
			t.Fatalf("not commutative: %x %x", a, b)
		}
		if a.Merge(a) != a {
			t.Fatalf("not idempotent: %x", a)
		}
		if m := a.Merge(b); !m.Has(a) || !m.Has(b) {
			t.Fatalf("merge is not an upper bound: %x %x", a, b)
		}
	}
}

func TestRingFIFOAndStats(t *testing.T) {
	q := NewRing[int](100)
	for i := 1; i <= 3; i++ {
		if !q.TryPush(i) {
			t.Fatal("push")
		}
	}
	if q.Len() != 3 {
		t.Fatalf("len %d", q.Len())
	}
	if v, ok := q.TryPop(); !ok || v != 1 {
		t.Fatalf("pop %d %v", v, ok)
	}
	st := q.Stats()
	if st != (QueueStats{Len: 2, Enqueued: 3, Dequeued: 1, Capacity: 100}) || st.Throughput() != 1 || st.Utilization() != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, want := range []int{2, 3} {
		if v, ok := q.TryPop(); !ok || v != want {
			t.Fatalf("pop %d %v, want %d", v, ok, want)
		}
	}
	if _, ok := q.TryPop(); ok || !q.Empty() {
		t.Fatal("pop from empty")
	}
}

func TestRingCapacityTwoRejectsThird(t *testing.T) {
	for _, c := range []int{2, 3, 5} {
		q := NewRing[int](c)
		for i := 0; i < c; i++ {
			if !q.TryPush(i) {
				t.Fatalf("cap %d: push %d refused", c, i)
			}
		}
		if q.TryPush(99) || q.Len() != c {
			t.Fatalf("cap %d: push beyond capacity accepted", c)
		}
		q.TryPop()
		if !q.TryPush(99) {
			t.Fatalf("cap %d: push after pop refused", c)
		}
	}
}

func TestRingWrapsManyTimes(t *testing.T) {
	q := NewRing[int](3)
	next := 0
	for i := 0; i < 1000; i++ {
		for q.TryPush(i) {
			i++
		}
		i--
		for {
			v, ok := q.TryPop()
			if !ok {
				break
			}
			if v != next {
				t.Fatalf("got %d want %d", v, next)
			}
			next++
		}
	}
}

func TestRingClose(t *testing.T) {
	q := NewRing[int](4)
	q.TryPush(1)
	q.Close()
	if q.TryPush(2) || !q.Closed() {
		t.Fatal("push after close")
	}
	if v, ok := q.TryPop(); !ok || v != 1 {
		t.Fatal("queued value lost at close")
	}
	q.Close()
	if st := q.Stats(); st.Enqueued != 1 || st.Dequeued != 1 {
		t.Fatalf("stats after close %+v", st)
	}
}

func TestRingConcurrentPushesNeverExceedCapacity(t *testing.T) {
	const capacity = 100
	q := NewRing[int](capacity)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if q.TryPush(i) {
					ok.Add(1)
				}
				if l := q.Len(); l > capacity {
					t.Errorf("len %d > capacity", l)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != capacity || q.Len() != capacity {
		t.Fatalf("accepted %d, len %d", ok.Load(), q.Len())
	}
}

func TestRingSPSCKeepsOrder(t *testing.T) {
	const n = 100000
	q := NewRing[int](64)
	go func() {
		for i := 0; i < n; {
			if q.TryPush(i) {
				i++
			} else {
				runtime.Gosched()
			}
		}
	}()
	for want := 0; want < n; {
		if v, ok := q.TryPop(); ok {
			if v != want {
				t.Fatalf("got %d want %d", v, want)
			}
			want++
		} else {
			runtime.Gosched()
		}
	}
}

func TestRingMPMCEveryValueOnce(t *testing.T) {
	const producers, consumers, per = 4, 4, 50000
	q := NewRing[uint64](100) // not a power of two: exercises the occupancy check
	seen := make([]atomic.Uint32, producers*per)
	var consumed atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				if q.TryPush(uint64(p*per + i)) {
					i++
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	for c := 0; c < consumers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for consumed.Load() < producers*per {
				if v, ok := q.TryPop(); ok {
					seen[v].Add(1)
					consumed.Add(1)
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("value %d consumed %d times", i, n)
		}
	}
	if st := q.Stats(); st != (QueueStats{Len: 0, Enqueued: producers * per, Dequeued: producers * per, Capacity: 100}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestShardOfSpreadsAndIsStable(t *testing.T) {
	const n = 8
	counts := make([]int, n)
	for h := TenantHandle(1); h <= 8000; h++ {
		s := ShardOf(h, n)
		if s < 0 || s >= n || s != ShardOf(h, n) {
			t.Fatalf("shard %d", s)
		}
		counts[s]++
	}
	for i, c := range counts {
		if c < 800 || c > 1200 {
			t.Fatalf("shard %d got %d of 8000 sequential tenants", i, c)
		}
	}
	if ShardOf(12345, 1) != 0 {
		t.Fatal("one shard")
	}
}
