package hotwire

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

var benchInflight = flag.Int("hotwire.inflight", 64, "invocations BenchmarkLoopbackLatency keeps in flight")

func benchNode(b *testing.B, shards int) *node {
	n := newNode(b, nodeOpts{
		builtins: BuiltinOptions{Timeout: BuiltinTimeout},
		dispatcher: func(c *hotpath.Config) {
			c.Shards, c.QueueDepth, c.SessionWindow, c.Clock = shards, 1<<14, 4096, clock.System{}
		},
		server: func(c *Config) { c.Window, c.Clock = 4096, clock.System{} },
	})
	n.clock.Set(time.Now()) // certificates are checked against the wall clock
	return n
}

// benchSessions opens conns connections with one echo session each, each
// for its own tenant (so with two shards, both run).
func benchSessions(b *testing.B, n *node, conns int) []*Session {
	out := make([]*Session, conns)
	for i := range out {
		a := newAgent(b)
		c := n.dial(a, func(o *Options) { o.Window = 4096 })
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
				fn := func(r *Result) {
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
	var fn func(r *Result)
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
	fn = func(r *Result) {
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

// BenchmarkServerInvokePath is the server's per-invocation path without the
// client or the network read: invoke frames already in a read chunk are
// parsed, checked and submitted to the dispatcher, run (echo, batch digest
// on), answered into the session's response buffer and flushed to the
// connection's writer (a pipe drained by a goroutine). allocs/op must be 0.
func BenchmarkServerInvokePath(b *testing.B) {
	n := benchNode(b, 1)
	srvSide, cliSide := net.Pipe()
	go io.Copy(io.Discard, cliSide)
	c := newConn(n.srv, srvSide)
	go c.out.run(srvSide, 0)
	b.Cleanup(func() { cliSide.Close(); c.finish(nil) })
	c.hello = true
	a := newAgent(b)
	cert := n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub})
	sig, pub := signProof(a.priv, c.challenge[:], cert)
	c.opens.Add(1)
	c.mu.Lock()
	c.reserved++
	c.mu.Unlock()
	c.open(openMsg{ID: 1, Certificate: cert, PublicKey: pub, Signature: sig, Window: 4096})
	s := c.sessions[1]
	frame := appendInvoke(nil, 1, 0, []byte("0123456789abcdef"))
	var ok bool
	if c.cur, ok = c.pool.get(nil); !ok {
		b.Fatal("no chunk")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for seq := 1; seq <= b.N; seq++ {
		if len(c.cur.buf)-c.w < len(frame) {
			c.process()
			c.flushLocal()
			for s.hs.InFlight() > 0 { // stay inside the window
				runtime.Gosched()
			}
			if err := c.rotate(); err != nil {
				b.Fatal(err)
			}
		}
		binary.BigEndian.PutUint64(frame[headerSize+4:], uint64(seq))
		c.w += copy(c.cur.buf[c.w:], frame)
	}
	c.process()
	c.flushLocal()
	for s.hs.InFlight() > 0 {
		runtime.Gosched()
	}
	b.StopTimer()
	if st := n.srv.Stats(); st.Refused != 0 {
		b.Fatalf("%d refused", st.Refused)
	}
}
