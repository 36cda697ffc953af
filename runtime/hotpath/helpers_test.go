package hotpath

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/clock/clocktest"
	"github.com/cnv-project/cnv/runtime/contract"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// waitScans waits until the watchdog has completed n more scans.
func waitScans(t testing.TB, d *Dispatcher, n uint64) {
	t.Helper()
	from := d.wd.scans.Load()
	waitFor(t, "watchdog scans", time.Second, func() bool { return d.wd.scans.Load() >= from+n })
}

// recSink records completions (copying what is borrowed) and batches.
type recSink struct {
	mu      sync.Mutex
	got     []Completion
	flushes int
}

func (r *recSink) Complete(_ *Session, c *Completion) {
	r.mu.Lock()
	cp := *c
	cp.Output = append([]byte(nil), c.Output...)
	r.got = append(r.got, cp)
	r.mu.Unlock()
}

func (r *recSink) Flush(*Session) {
	r.mu.Lock()
	r.flushes++
	r.mu.Unlock()
}

func (r *recSink) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recSink) all() []Completion {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Completion(nil), r.got...)
}

type batchRec struct {
	mu sync.Mutex
	bs []Batch
}

func (b *batchRec) sink(x Batch) {
	b.mu.Lock()
	b.bs = append(b.bs, x)
	b.mu.Unlock()
}

func (b *batchRec) all() []Batch {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Batch(nil), b.bs...)
}

var epoch = time.Unix(1_700_000_000, 0)

// testConfig is one shard, a fake clock and a fine watchdog tick.
func testConfig() (Config, *clocktest.Fake) {
	fc := clocktest.NewFake(epoch)
	cfg := DefaultConfig()
	cfg.Shards = 1
	cfg.QueueDepth = 64
	cfg.SessionWindow = 1024
	cfg.WatchdogTick = 20 * time.Microsecond
	cfg.Clock = fc
	return cfg, fc
}

func startDispatcher(t testing.TB, cfg Config) *Dispatcher {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = d.Stop(ctx)
	})
	return d
}

func plainSpec() Spec { return Spec{Flags: capability.FlagReadOnly} }

func mustRegister(t testing.TB, d *Dispatcher, idx uint32, h Handler, spec Spec) {
	t.Helper()
	if err := d.Register(idx, h, spec); err != nil {
		t.Fatal(err)
	}
}

func openSession(t testing.TB, d *Dispatcher, key string, tenant TenantHandle, idx uint32, sink Sink) *Session {
	t.Helper()
	s, err := d.OpenSession(SessionOptions{Key: key, Agent: 1, Tenant: tenant, CapIndex: idx, Allowed: AllFlags, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gate is a handler that blocks until released, counting entries.
type gate struct {
	mu      sync.Mutex
	entered int
	release chan struct{}
	once    sync.Once
}

// newGate returns a closed gate that t's cleanup opens (before the
// dispatcher's Stop, since cleanups run last-registered first).
func newGate(t testing.TB) *gate {
	g := &gate{release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) handler(ctx context.Context, c *Call) error {
	g.mu.Lock()
	g.entered++
	g.mu.Unlock()
	<-g.release
	return nil
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entered
}

func echo(_ context.Context, c *Call) error {
	c.Out = append(c.Out, c.Args...)
	return nil
}

func exponential(maxAttempts uint32, initial, max time.Duration) contract.RetryPolicy {
	return contract.RetryPolicy{Kind: contract.ExponentialBackoff, MaxAttempts: maxAttempts, InitialDelay: initial, MaxDelay: max}
}

func linear(maxAttempts uint32, step time.Duration) contract.RetryPolicy {
	return contract.RetryPolicy{Kind: contract.LinearBackoff, MaxAttempts: maxAttempts, InitialDelay: step}
}

// gatedDispatcher starts a dispatcher (tune adjusts the test config) whose
// capability 0 is a gate's handler with a plain spec.
func gatedDispatcher(t *testing.T, tune func(*Config)) (*Dispatcher, *gate) {
	t.Helper()
	cfg, _ := testConfig()
	if tune != nil {
		tune(&cfg)
	}
	d := startDispatcher(t, cfg)
	g := newGate(t)
	mustRegister(t, d, 0, g.handler, plainSpec())
	return d, g
}
