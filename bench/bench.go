package bench

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// Config is one run.
type Config struct {
	Addrs      []string
	Client     *client.Client
	Clients    int
	Duration   time.Duration
	Batch      int
	Capability string
	// ValueBytes is the size of the one argument each invocation carries
	// (a value, as a key-value store's benchmark writes one).
	ValueBytes int
	// Presign, when set, makes each client sign this many requests with
	// Key before the clock starts and send only those: the run then shows
	// what the cluster does without the generator's signing cost.
	Presign int
	Key     ed25519.PrivateKey
	// Progress, when set, is called about every second with the totals
	// so far.
	Progress func(elapsed time.Duration, committed, errors int64)
}

// Report is a run's outcome. Latencies are per request (one signed batch).
type Report struct {
	Clients    int     `json:"clients"`
	Batch      int     `json:"batch"`
	Nodes      int     `json:"nodes"`
	DurationS  float64 `json:"duration_s"`
	Committed  int64   `json:"committed"`
	Denied     int64   `json:"denied"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	// FirstError is one error seen, to explain a non-zero Errors.
	FirstError string `json:"first_error,omitempty"`
	Presigned  bool   `json:"presigned,omitempty"`
	// ClientCPUus is the generator's own CPU time per committed
	// invocation, and ClientCPUShare the share of the machine's cores it
	// used: the generator is not the limit while that share is well
	// below one.
	ClientCPUus    float64 `json:"client_cpu_us_per_invocation"`
	ClientCPUShare float64 `json:"client_cpu_share"`
	// NodeCPUus is the CPU time the nodes spent per committed invocation,
	// summed over the nodes (each node's process_cpu_seconds_total, before
	// and after), and NodeRSSBytes the largest node's resident memory at
	// the end; both absent when a node's /metrics could not be read.
	NodeCPUus    float64 `json:"node_cpu_us_per_invocation,omitempty"`
	NodeRSSBytes int64   `json:"node_rss_bytes,omitempty"`
	// NodeStats is what the nodes reported, each.
	NodeStats []NodeStat `json:"nodes_cpu,omitempty"`
}

// NodeStat is one node's CPU seconds over the run and its resident memory
// at the end.
type NodeStat struct {
	Addr       string  `json:"addr"`
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSBytes   int64   `json:"rss_bytes"`
}

// Run runs the load until ctx ends or the duration passes (or, with
// Presign, until every client sent what it signed).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Clients < 1 || cfg.Batch < 1 || len(cfg.Addrs) == 0 {
		return nil, errors.New("bench: need at least one client, a batch of one and an address")
	}
	if cfg.Presign > 0 && cfg.Key == nil {
		return nil, errors.New("bench: presigning needs the key")
	}
	value := strings.Repeat("v", cfg.ValueBytes)
	batchOf := func(i, seq int) []invocation.Invocation {
		invs := make([]invocation.Invocation, cfg.Batch)
		for j := range invs {
			invs[j] = invocation.Invocation{Capability: cfg.Capability, RequestID: client.NewRequestID(),
				Args: []invocation.Arg{{Name: "n", Value: strconv.Itoa((i<<32 | seq) + j)}}}
			if value != "" {
				invs[j].Args = append(invs[j].Args, invocation.Arg{Name: "v", Value: value})
			}
		}
		return invs
	}
	presigned := make([][]invocation.Signed, cfg.Clients)
	for i := range presigned {
		for seq := 0; seq < cfg.Presign; seq++ {
			s, err := invocation.Sign(cfg.Key, batchOf(i, seq))
			if err != nil {
				return nil, err
			}
			presigned[i] = append(presigned[i], s)
		}
	}
	before := nodeStats(ctx, cfg)
	cpu0 := processCPU()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var committed, denied, errs atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, cfg.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := cfg.Addrs[i%len(cfg.Addrs)]
			for seq := 0; ctx.Err() == nil; seq++ {
				var outs []wire.Outcome
				var err error
				t0 := time.Now()
				if cfg.Presign > 0 {
					if seq >= len(presigned[i]) {
						return
					}
					outs, err = cfg.Client.InvokeSigned(ctx, addr, &presigned[i][seq])
				} else {
					outs, err = cfg.Client.Invoke(ctx, addr, batchOf(i, seq)...)
				}
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				lats[i] = append(lats[i], time.Since(t0))
				for _, o := range outs {
					switch {
					case o.Error != nil:
						errs.Add(1)
						firstErr.CompareAndSwap(nil, o.Error.Error())
					case o.Decision == "allow":
						committed.Add(1)
					default:
						denied.Add(1)
					}
				}
			}
		}()
	}
	stopProgress := progress(ctx, cfg, start, &committed, &errs)
	wg.Wait()
	stopProgress()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	rep := &Report{Clients: cfg.Clients, Batch: cfg.Batch, Nodes: len(cfg.Addrs), DurationS: elapsed.Seconds(),
		Committed: committed.Load(), Denied: denied.Load(), Errors: errs.Load(), Presigned: cfg.Presign > 0}
	rep.Throughput = float64(rep.Committed) / elapsed.Seconds()
	if s, ok := firstErr.Load().(string); ok {
		rep.FirstError = s
	}
	if rep.Committed > 0 {
		rep.ClientCPUus = cpu.Seconds() * 1e6 / float64(rep.Committed)
	}
	rep.ClientCPUShare = cpu.Seconds() / elapsed.Seconds() / float64(runtime.NumCPU())
	rep.nodeCPU(before, nodeStats(context.Background(), cfg))
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	rep.P50ms, rep.P99ms, rep.P999ms = pct(all, 0.50), pct(all, 0.99), pct(all, 0.999)
	if len(all) > 0 {
		rep.MaxMs = ms(all[len(all)-1])
	}
	return rep, nil
}

func progress(ctx context.Context, cfg Config, start time.Time, committed, errs *atomic.Int64) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				cfg.Progress(time.Since(start), committed.Load(), errs.Load())
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return ms(sorted[max(0, min(i, len(sorted)-1))])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
