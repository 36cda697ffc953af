package hotpath

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/clock"
)

func trivial(context.Context, *Call) error { return nil }

// waitRoom is what a pipelined client does when refused: wait until its
// window has drained by a quarter before submitting again, instead of
// retrying in a loop that hammers the cache lines the worker is using.
func waitRoom(s *Session, window int64) {
	for s.InFlight() > window*3/4 {
		runtime.Gosched()
	}
}

// benchSink counts completions the way a network sink batches responses:
// plain counting in Complete, one publication per Flush (per run).
type benchSink struct {
	local int64 // worker-only
	n     atomic.Int64
}

func (b *benchSink) Complete(*Session, *Completion) { b.local++ }
func (b *benchSink) Flush(*Session)                 { b.n.Store(b.local) }

const benchWindow = 4096

// benchDispatcher starts a dispatcher for benchmarks: system clock, FastPath
// timeout on the handler (so deadline publication is on the measured path)
// and, when digest is set, a batch sink with 4096-invocation batches.
func benchDispatcher(b *testing.B, shards int, digest bool) *Dispatcher {
	cfg := DefaultConfig()
	cfg.Shards = shards
	cfg.QueueDepth = 8192
	cfg.SessionWindow = benchWindow
	cfg.Clock = clock.System{}
	if digest {
		cfg.BatchSink = func(Batch) {}
		cfg.BatchMaxCount = 4096
	}
	d := startDispatcher(b, cfg)
	mustRegister(b, d, 0, trivial, Spec{Flags: capability.FlagReadOnly, Timeout: time.Millisecond})
	return d
}

func benchDispatchOne(b *testing.B, digest bool) {
	d := benchDispatcher(b, 1, digest)
	sink := &benchSink{}
	s := openSession(b, d, "bench", 1, 0, sink)
	args := []byte("--name alice --age 30")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for s.Submit(uint64(i), args) != nil {
			waitRoom(s, benchWindow)
		}
	}
	for sink.n.Load() < int64(b.N) {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
}

// BenchmarkDispatch: one producer, one shard, trivial handler, batch digests
// on (the configuration the cluster runs).
func BenchmarkDispatch(b *testing.B) { benchDispatchOne(b, true) }

// BenchmarkDispatchNoDigest is BenchmarkDispatch without batch digests.
func BenchmarkDispatchNoDigest(b *testing.B) { benchDispatchOne(b, false) }

// BenchmarkDispatchBatch submits in pipelined batches of 64 (SubmitBatch).
func BenchmarkDispatchBatch(b *testing.B) {
	d := benchDispatcher(b, 1, true)
	sink := &benchSink{}
	s := openSession(b, d, "bench", 1, 0, sink)
	reqs := make([]Request, 64)
	for i := range reqs {
		reqs[i].Args = []byte("--name alice --age 30")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		n := min(len(reqs), b.N-i)
		for j := range reqs[:n] {
			reqs[j].Seq = uint64(i + j)
		}
		k, _ := s.SubmitBatch(reqs[:n])
		if k < n {
			waitRoom(s, benchWindow)
		}
		i += k
	}
	for sink.n.Load() < int64(b.N) {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
}

// tenantsPerShard returns one tenant handle landing on each shard.
func tenantsPerShard(n int, skip int) []TenantHandle {
	out := make([]TenantHandle, n)
	found := 0
	for t := TenantHandle(1 + skip*100000); found < n; t++ {
		if s := ShardOf(t, n); out[s] == 0 {
			out[s] = t
			found++
		}
	}
	return out
}

// BenchmarkDispatchParallel: GOMAXPROCS producers, each with one session
// per shard, submitting round-robin over the shards.
func BenchmarkDispatchParallel(b *testing.B) {
	for _, shards := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			d := benchDispatcher(b, shards, true)
			var total atomic.Int64
			var producer atomic.Int64
			var mu sync.Mutex
			var sinks []*benchSink
			args := []byte("--name alice --age 30")
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := int(producer.Add(1))
				var ss []*Session
				for i, t := range tenantsPerShard(shards, p) {
					sink := &benchSink{} // one per session: sinks run on their shard's worker
					mu.Lock()
					sinks = append(sinks, sink)
					mu.Unlock()
					ss = append(ss, openSession(b, d, fmt.Sprint("p", p, "-", i), t, 0, sink))
				}
				seq := uint64(0)
				for pb.Next() {
					s := ss[seq%uint64(len(ss))]
					for s.Submit(seq, args) != nil {
						waitRoom(s, benchWindow)
					}
					seq++
				}
				total.Add(int64(seq))
			})
			for {
				var done int64
				for _, s := range sinks {
					done += s.n.Load()
				}
				if done >= total.Load() {
					break
				}
				runtime.Gosched()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
		})
	}
}

// BenchmarkQueue pushes n values then pops them all;
// ns/item is the cost of one push plus one pop.
func BenchmarkQueue(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			q := NewRing[uint64](n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					q.TryPush(uint64(j))
				}
				for j := 0; j < n; j++ {
					q.TryPop()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
		})
	}
}

// BenchmarkQueueMPMC is push+pop pairs from GOMAXPROCS goroutines at once.
func BenchmarkQueueMPMC(b *testing.B) {
	q := NewRing[uint64](1024)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.TryPush(1)
			q.TryPop()
		}
	})
}

var sinkCtx Context

func BenchmarkContextCreate(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sinkCtx = Context{Agent: AgentHandle(i), Tenant: 2, CapIndex: 3, Flags: capability.FlagReadOnly}
		}
	})
	b.Run("with_correlation", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sinkCtx = Context{Agent: AgentHandle(i), Tenant: 2, CapIndex: 3, Flags: capability.FlagReadOnly}.WithCorrelation("req-0123456789")
		}
	})
}

var sinkBool bool
var sinkFlags capability.Flags

func BenchmarkEffectFlags(b *testing.B) {
	b.Run("create_check", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			f := capability.Flags(i).With(capability.FlagReadOnly)
			sinkBool = Within(f, capability.FlagReadOnly|capability.FlagIdempotent) && f.Has(capability.FlagReadOnly)
		}
	})
	b.Run("merge", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sinkFlags = capability.Flags(i).Merge(sinkFlags)
		}
	})
}

func BenchmarkQuotaSpend(b *testing.B) {
	q := NewQuota(0)
	_ = q.Lease(1 << 62)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = q.TrySpend(1)
		}
	})
}

func BenchmarkBatchDigestEntry(b *testing.B) {
	var d batchDigester
	d.h = newSHA()
	d.start(Digest{}, "bench", Context{Agent: 3, Tenant: 4, CapIndex: 2})
	e := Entry{Seq: 1, Args: []byte("--name alice --age 30")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Seq = uint64(i)
		d.add(&e)
	}
}
