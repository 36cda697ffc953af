package server

import (
	"flag"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

var benchInflight = flag.Int("hotwire.inflight", 64, "invocations BenchmarkLoopbackLatency keeps in flight")

// benchSessions opens conns connections with one echo session each, each
// for its own tenant (so with two shards, both run).
func benchSessions(b *testing.B, n *node, conns int) []*client.Session {
	out := make([]*client.Session, conns)
	for i := range out {
		a := newAgent(b)
		c := n.dial(a, func(o *client.Options) { o.Window = 4096 })
		cert := n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub, tenant: fmt.Sprintf("t%d", i)})
		s, err := c.OpenSession(ctx(b), cert)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// BenchmarkLoopbackPipelined is invocations/s into one server over loopback
// TCP, client and server in this process: each connection's submitter keeps
// up to a window (4096) of echo invocations in flight. allocs/op covers the
// client and the server together.
func BenchmarkLoopbackPipelined(b *testing.B) {
	for _, tc := range []struct{ conns, shards int }{{1, 1}, {2, 2}} {
		b.Run(fmt.Sprintf("conns=%d/shards=%d", tc.conns, tc.shards), func(b *testing.B) {
			n := benchNode(b, tc.shards)
			sessions := benchSessions(b, n, tc.conns)
			args := []byte("0123456789abcdef")
			var failed, late atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i, s := range sessions {
				per := b.N / tc.conns
				if i == 0 {
					per += b.N % tc.conns
				}
				wg.Add(per)
				fn := func(r *client.Result) {
					switch {
					case r.Err == nil:
					case r.Outcome == hotpath.OutcomeDeadlineExceeded:
						late.Add(1) // the worker was descheduled past the 1ms FastPath deadline
					case failed.Add(1) == 1:
						b.Errorf("seq %d: refused=%v %v", r.Seq, r.Refused, r.Err)
					}
					wg.Done()
				}
				go func() {
					for range per {
						if err := s.Submit(args, fn); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "inv/s")
			b.ReportMetric(float64(late.Load()), "deadline-exceeded")
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d invocations failed", f)
			}
		})
	}
}

// BenchmarkLoopbackLatency keeps -hotwire.inflight echo invocations in
// flight on one connection (closed loop: each answer submits the next) and
// reports the throughput that sustains and the latency percentiles seen by
// the client, from Submit to the result callback. Choose inflight so the
// throughput is about half of BenchmarkLoopbackPipelined's.
func BenchmarkLoopbackLatency(b *testing.B) {
	n := benchNode(b, 1)
	s := benchSessions(b, n, 1)[0]
	args := []byte("0123456789abcdef")
	sent := make([]int64, b.N+1)
	lat := make([]int64, 0, b.N)
	done := make(chan struct{})
	var mu sync.Mutex
	next := 1
	var fn func(r *client.Result)
	// One submitter at a time, so the i-th Submit gets sequence number i.
	submit := func() {
		mu.Lock()
		defer mu.Unlock()
		if next > b.N {
			return
		}
		sent[next] = time.Now().UnixNano()
		next++
		if err := s.Submit(args, fn); err != nil {
			b.Error(err)
		}
	}
	fn = func(r *client.Result) {
		lat = append(lat, time.Now().UnixNano()-sent[r.Seq])
		if len(lat) == b.N {
			close(done)
			return
		}
		submit()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range *benchInflight {
		submit()
	}
	<-done
	el := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(float64(b.N)/el.Seconds(), "inv/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
}
