package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// Config is one run.
type Config struct {
	Addrs      []string
	Client     *client.Client
	Clients    int
	Duration   time.Duration
	Batch      int
	Capability string
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
}

// Run runs the load until ctx ends or the duration passes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Clients < 1 || cfg.Batch < 1 || len(cfg.Addrs) == 0 {
		return nil, errors.New("bench: need at least one client, a batch of one and an address")
	}
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
				invs := make([]invocation.Invocation, cfg.Batch)
				for j := range invs {
					invs[j] = invocation.Invocation{Capability: cfg.Capability,
						Args: []invocation.Arg{{Name: "n", Value: fmt.Sprint(seq*cfg.Batch + j)}}}
				}
				t0 := time.Now()
				outs, err := cfg.Client.Invoke(ctx, addr, invs...)
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
	rep := &Report{Clients: cfg.Clients, Batch: cfg.Batch, Nodes: len(cfg.Addrs), DurationS: elapsed.Seconds(),
		Committed: committed.Load(), Denied: denied.Load(), Errors: errs.Load()}
	rep.Throughput = float64(rep.Committed) / elapsed.Seconds()
	if s, ok := firstErr.Load().(string); ok {
		rep.FirstError = s
	}
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
