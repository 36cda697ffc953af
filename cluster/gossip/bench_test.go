package gossip

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func BenchmarkEncodeMeta(b *testing.B) {
	m := validMeta()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeMeta(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMeta(b *testing.B) {
	m := validMeta()
	enc, err := EncodeMeta(&m)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMeta(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcile is one autopilot round for 5 servers (one nonvoter,
// one dead) among 100 members.
func BenchmarkReconcile(b *testing.B) {
	servers := append(voters("s0", "s1", "s2", "s3"), srv("s4", Nonvoter))
	members := alive("s0", "s1", "s2", "s4")
	for i := range 95 {
		members = append(members, edge(fmt.Sprintf("e%02d", i)))
	}
	cfg := RaftConfig{Servers: servers, LeaderID: "s0", CommitIndex: 100}
	var st State
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		Reconcile(cfg, members, &st, now, testPolicy)
	}
}

// BenchmarkGossipTraffic measures steady-state gossip traffic with
// production (LAN) timing: one op is one second of a cluster of n members
// (3 servers, the rest edges) holding a published graph, either idle or
// with servers advancing their applied index every 50ms (so each
// broadcasts its metadata once per MetaInterval). It reports the bytes
// each node sends per second (received is the same on average). Use
// -benchtime=60x or more so the window spans push/pull rounds (every 30s).
func BenchmarkGossipTraffic(b *testing.B) {
	for _, n := range []int{3, 10} {
		for _, writes := range []bool{false, true} {
			name := fmt.Sprintf("members=%d/load=%s", n, map[bool]string{false: "idle", true: "writes"}[writes])
			b.Run(name, func(b *testing.B) { benchTraffic(b, n, writes) })
		}
	}
}

func benchTraffic(b *testing.B, n int, writes bool) {
	servers := min(n, 3)
	gs := cluster(b, servers, n-servers, func(c *Config) { c.Timing = LANTiming() })
	if err := gs[0].PublishGraph(snapshot(b, 1, 50)); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 30*time.Second, "graph everywhere", func() bool {
		for _, g := range gs {
			if _, i, _ := g.Graph(); i != 1 {
				return false
			}
		}
		return true
	})
	stop := make(chan struct{})
	defer close(stop)
	if writes {
		go advanceApplied(gs[:servers], stop)
	}
	before := totalSent(gs)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	sent := float64(totalSent(gs) - before)
	b.ReportMetric(sent/elapsed/float64(n), "bytes/s/node")
}

func advanceApplied(gs []*Gossip, stop chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for i := uint64(1); ; i++ {
		select {
		case <-stop:
			return
		case <-t.C:
			for _, g := range gs {
				g.SetApplied(i)
			}
		}
	}
}

func totalSent(gs []*Gossip) uint64 {
	var s uint64
	for _, g := range gs {
		s += g.Traffic().BytesSent()
	}
	return s
}

// BenchmarkGraphPropagation measures, with production (LAN) timing, how
// long a snapshot published on one server takes to be installed on every
// member of a cluster of n (3 servers, the rest edges). One op is one
// publish; p50/p99 are over the ops (use -benchtime=100x).
func BenchmarkGraphPropagation(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchPropagation(b, n) })
	}
}

func benchPropagation(b *testing.B, n int) {
	servers := min(n, 3)
	gs := cluster(b, servers, n-servers, func(c *Config) { c.Timing = LANTiming() })
	var lat []time.Duration
	idx := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		idx++
		s := snapshot(b, idx, 20)
		b.StartTimer()
		start := time.Now()
		if err := gs[0].PublishGraph(s); err != nil {
			b.Fatal(err)
		}
		for _, g := range gs {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _, _, err := g.WaitGraph(ctx, idx)
			cancel()
			if err != nil {
				b.Fatalf("%s: %v", g.NodeID(), err)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
