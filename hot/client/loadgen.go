package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// LoadConfig is one load run over open sessions (`cnv-node bench --hot`).
type LoadConfig struct {
	// Sessions are driven concurrently, usually one per connection.
	Sessions []*Session
	// Nodes is reported as is (how many nodes the sessions span).
	Nodes    int
	Duration time.Duration
	// Pipeline is how many invocations each session keeps in flight
	// (default 64, at most its window): a closed loop, each answer sends
	// the next.
	Pipeline int
	// Args are every invocation's arguments.
	Args []byte
	// Progress, when set, is called about every second with the totals.
	Progress func(elapsed time.Duration, committed, errors int64)
}

// LoadReport is a run's outcome, with the fields of `cnv-node bench`
// (clients are sessions, batch is the pipeline depth). Latency is per
// invocation, from Submit to its answer.
type LoadReport struct {
	Clients    int     `json:"clients"`
	Batch      int     `json:"batch"`
	Nodes      int     `json:"nodes"`
	DurationS  float64 `json:"duration_s"`
	Committed  int64   `json:"committed"`
	Denied     int64   `json:"denied"`
	Refused    int64   `json:"refused"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// RunLoad drives the sessions until ctx ends or the duration passes, then
// waits for every invocation in flight to be answered.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	if len(cfg.Sessions) == 0 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("%w: load needs sessions and a duration", proto.ErrBadConfig)
	}
	if cfg.Pipeline <= 0 {
		cfg.Pipeline = 64
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var tot loadTotals
	drivers := make([]*driver, len(cfg.Sessions))
	start := time.Now()
	for i, s := range cfg.Sessions {
		drivers[i] = newDriver(s, cfg, &tot)
		drivers[i].start()
	}
	progress(ctx, cfg.Progress, start, &tot)
	for _, d := range drivers {
		d.stop()
	}
	el := time.Since(start)
	return report(cfg, drivers, &tot, el), nil
}

type loadTotals struct {
	committed, denied, refused, errors atomic.Int64
	firstErr                           atomic.Pointer[string]
}

func (t *loadTotals) fail(err error) {
	if t.firstErr.Load() == nil {
		msg := err.Error()
		t.firstErr.CompareAndSwap(nil, &msg)
	}
}

func progress(ctx context.Context, fn func(time.Duration, int64, int64), start time.Time, tot *loadTotals) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if fn != nil {
				fn(time.Since(start), tot.committed.Load(), tot.errors.Load()+tot.denied.Load()+tot.refused.Load())
			}
		}
	}
}

// driver keeps one session's pipeline full. Submissions are serialised by
// mu, so the k-th Submit gets sequence number k and its send time can be
// stored before the answer can arrive.
type driver struct {
	s        *Session
	args     []byte
	pipeline int
	tot      *loadTotals

	mu       sync.Mutex
	next     uint64
	sent     []int64
	mask     uint64
	stopped  bool
	inflight int
	drained  chan struct{}
	hist     histogram // answers only (reader goroutine)
	fn       func(*Result)
}

func newDriver(s *Session, cfg LoadConfig, tot *loadTotals) *driver {
	p := min(cfg.Pipeline, s.info.Window)
	n := 1 << bits.Len(uint(2*s.info.Window-1))
	d := &driver{s: s, args: cfg.Args, pipeline: p, tot: tot, next: s.nextSeq(),
		sent: make([]int64, n), mask: uint64(n - 1), drained: make(chan struct{})}
	d.fn = d.answer
	return d
}

func (d *driver) start() {
	for range d.pipeline {
		d.submit()
	}
}

func (d *driver) submit() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.sent[d.next&d.mask] = time.Now().UnixNano()
	d.inflight++
	if err := d.s.Submit(d.args, d.fn); err != nil {
		d.inflight--
		d.stopped = true
		d.tot.errors.Add(1)
		d.tot.fail(err)
		d.drainedIfIdle()
		return
	}
	d.next++
}

func (d *driver) answer(r *Result) {
	d.hist.record(time.Now().UnixNano() - d.sent[r.Seq&d.mask])
	d.tot.count(r)
	d.mu.Lock()
	d.inflight--
	d.drainedIfIdle()
	d.mu.Unlock()
	d.submit()
}

func (t *loadTotals) count(r *Result) {
	switch k := cnverr.KindOf(r.Err); {
	case r.Err == nil:
		t.committed.Add(1)
		return
	case r.Refused && (k == cnverr.PermissionDenied || k == cnverr.Unauthenticated):
		t.denied.Add(1)
	case r.Refused && k == cnverr.ResourceExhausted:
		t.refused.Add(1)
	default:
		t.errors.Add(1)
	}
	t.fail(r.Err)
}

func (d *driver) drainedIfIdle() {
	if d.stopped && d.inflight == 0 {
		select {
		case <-d.drained:
		default:
			close(d.drained)
		}
	}
}

// stop ends submissions and waits for the answers in flight.
func (d *driver) stop() {
	d.mu.Lock()
	d.stopped = true
	d.drainedIfIdle()
	d.mu.Unlock()
	<-d.drained
}

func report(cfg LoadConfig, ds []*driver, tot *loadTotals, el time.Duration) *LoadReport {
	var h histogram
	for _, d := range ds {
		h.merge(&d.hist)
	}
	r := &LoadReport{
		Clients: len(ds), Batch: cfg.Pipeline, Nodes: cfg.Nodes, DurationS: el.Seconds(),
		Committed: tot.committed.Load(), Denied: tot.denied.Load(), Refused: tot.refused.Load(), Errors: tot.errors.Load(),
		Throughput: float64(tot.committed.Load()) / el.Seconds(),
		P50ms:      h.quantileMs(0.50), P99ms: h.quantileMs(0.99), P999ms: h.quantileMs(0.999), MaxMs: float64(h.max) / 1e6,
	}
	if p := tot.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	return r
}

// histogram is a log-linear latency histogram: 16 linear buckets per power
// of two (about 6% resolution), fixed size, no allocation per sample.
type histogram struct {
	counts [61 * 16]uint64
	total  uint64
	max    int64
}

func bucketOf(v int64) int {
	if v < 16 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) // ≥ 5
	return (e-4)*16 + int(uint64(v)>>(e-5)&15)
}

func bucketFloor(i int) int64 {
	if i < 16 {
		return int64(i)
	}
	e, sub := i/16+4, int64(i%16)
	return (16 + sub) << (e - 5)
}

func (h *histogram) record(ns int64) {
	h.counts[bucketOf(ns)]++
	h.total++
	h.max = max(h.max, ns)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

func (h *histogram) quantileMs(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total-1))
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen > rank {
			return float64(bucketFloor(i)) / 1e6
		}
	}
	return float64(h.max) / 1e6
}

// RunLines invokes the session once per line of in (the line is the
// arguments; empty lines are skipped) and writes each answer to out as one
// line, or "error: ..." for a refusal or failure (`cnv-node hot session`).
// It returns how many invocations succeeded and failed.
func RunLines(ctx context.Context, s *Session, in io.Reader, out io.Writer) (ok, failed int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), limits.MaxHotArgsBytes)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		res, ierr := s.Invoke(ctx, line)
		switch {
		case errors.Is(ierr, proto.ErrConnClosed) || ctx.Err() != nil:
			return ok, failed + 1, ierr
		case ierr != nil:
			failed++
			_, err = fmt.Fprintf(out, "error: %s: %v\n", cnverr.KindOf(ierr), ierr)
		default:
			ok++
			_, err = fmt.Fprintf(out, "%s\n", res)
		}
		if err != nil {
			return ok, failed, err
		}
	}
	return ok, failed, sc.Err()
}
