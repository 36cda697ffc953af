package hotpath

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/contract"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Config configures a Dispatcher.
type Config struct {
	// Shards is the number of shards, each with one worker goroutine and
	// one queue. A tenant's invocations all run on one shard (ShardOf).
	Shards int
	// QueueDepth is each shard's queue capacity; a submission to a full
	// shard is refused with ErrShardFull. The worker frees slots at once
	// but publishes its position once per run, so with a depth that is not
	// a power of two a submission may be refused while the current run's
	// invocations are still executing (never accepted beyond the depth).
	QueueDepth int
	// SessionWindow is the default bound on one session's invocations in
	// flight (its pipelining depth); SessionOptions.Window overrides it.
	SessionWindow int
	// WatchdogTick is the resolution of timeout enforcement: an invocation
	// is cancelled after running for its timeout and at most one tick (plus
	// scheduling delay) later, never earlier. The effective tick is at
	// least the OS timer granularity, about 1ms on the Linux VMs we measure
	// on, whatever smaller value is set.
	WatchdogTick time.Duration
	// IdleSpin is how many times an idle worker polls its queue before it
	// parks; a parked worker costs a wake-up (a channel send) to restart.
	IdleSpin int
	// Clock stamps batches and measures timeouts and retry delays. Workers
	// read it once per run of up to RunLength invocations, not per
	// invocation.
	Clock clock.Clock
	// BatchSink receives every cut batch, on the shard's worker goroutine:
	// it must not block for long. When nil, no digests are computed and
	// Cut only synchronises.
	BatchSink func(Batch)
	// BatchMaxCount cuts a session's batch automatically once it holds this
	// many invocations; 0 cuts only on Cut, Close and Stop.
	BatchMaxCount uint64
}

// RunLength is the most invocations a worker runs between clock reads,
// counter publications and sink flushes.
const RunLength = 64

// DefaultConfig is one shard per CPU, 4096-deep queues, a 1024-deep
// session window and a 100µs watchdog tick.
func DefaultConfig() Config {
	return Config{
		Shards:        runtime.GOMAXPROCS(0),
		QueueDepth:    4096,
		SessionWindow: 1024,
		WatchdogTick:  100 * time.Microsecond,
		IdleSpin:      256,
		Clock:         clock.System{},
	}
}

// Validate checks every field against its bounds.
func (c Config) Validate() error {
	switch {
	case c.Shards < 1 || c.Shards > limits.MaxShards:
		return fmt.Errorf("%w: shards %d outside [1, %d]", ErrBadConfig, c.Shards, limits.MaxShards)
	case c.QueueDepth < 1 || c.QueueDepth > limits.MaxShardQueue:
		return fmt.Errorf("%w: queue depth %d outside [1, %d]", ErrBadConfig, c.QueueDepth, limits.MaxShardQueue)
	case c.SessionWindow < 1 || c.SessionWindow > limits.MaxSessionWindow:
		return fmt.Errorf("%w: session window %d outside [1, %d]", ErrBadConfig, c.SessionWindow, limits.MaxSessionWindow)
	case c.WatchdogTick < limits.MinWatchdogTick:
		return fmt.Errorf("%w: watchdog tick %v below %v", ErrBadConfig, c.WatchdogTick, time.Duration(limits.MinWatchdogTick))
	case c.IdleSpin < 0:
		return fmt.Errorf("%w: idle spin %d is negative", ErrBadConfig, c.IdleSpin)
	case c.Clock == nil:
		return fmt.Errorf("%w: no clock", ErrBadConfig)
	}
	return nil
}

const (
	stateNew int32 = iota
	stateRunning
	stateStopping
	stateStopped
)

// Dispatcher runs hot-path invocations on N shards. Register handlers,
// Start, open sessions and submit on them, Cut batches while running, and
// Stop to drain. All methods are safe for concurrent use.
type Dispatcher struct {
	cfg    Config
	clock  clock.Clock
	shards []*shard
	wd     *watchdog
	table  atomic.Pointer[[]*entry]
	state  atomic.Int32

	regMu sync.Mutex
	limMu sync.Mutex
	tlim  map[limitKey]*tenantLimiter
}

type tenantLimiter struct {
	*limiter
	refs int
}

// New returns a dispatcher; it runs nothing until Start.
func New(cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, clock: cfg.Clock, tlim: make(map[limitKey]*tenantLimiter)}
	d.shards = make([]*shard, cfg.Shards)
	for i := range d.shards {
		d.shards[i] = newShard(d, i)
	}
	d.wd = newWatchdog(d, cfg.WatchdogTick)
	empty := []*entry{}
	d.table.Store(&empty)
	return d, nil
}

// Register installs the handler for capability index idx. Indexes are
// dense (the cluster numbers capabilities 0, 1, 2, ...) and each may be
// registered once: a second registration is ErrDuplicateHandler, never an
// overwrite. Registration may happen before or after Start.
func (d *Dispatcher) Register(idx uint32, h Handler, spec Spec) error {
	if idx >= limits.MaxCapabilities || idx > maxCapWord {
		return fmt.Errorf("%w: %d (limit %d)", ErrBadCapIndex, idx, limits.MaxCapabilities)
	}
	if h == nil {
		return fmt.Errorf("%w: nil handler for index %d", ErrBadSpec, idx)
	}
	if err := spec.validate(); err != nil {
		return fmt.Errorf("index %d: %w", idx, err)
	}
	e := &entry{index: idx, h: h, spec: spec, timeout: int64(spec.Timeout)}
	e.retry = spec.Idempotent && spec.Retry.Kind != contract.NoRetry
	if spec.Concurrency.Kind == contract.GlobalShared {
		e.global = newLimiter(int64(spec.Concurrency.Max))
	}
	d.regMu.Lock()
	defer d.regMu.Unlock()
	old := *d.table.Load()
	if int(idx) < len(old) && old[idx] != nil {
		return fmt.Errorf("%w: %d", ErrDuplicateHandler, idx)
	}
	next := make([]*entry, max(len(old), int(idx)+1))
	copy(next, old)
	next[idx] = e
	d.table.Store(&next)
	return nil
}

// lookup returns the entry for idx or nil; a dense slice index.
func (d *Dispatcher) lookup(idx uint32) *entry {
	t := *d.table.Load()
	if int(idx) < len(t) {
		return t[idx]
	}
	return nil
}

// timeoutOf is the timeout of the invocation published as word.
func (d *Dispatcher) timeoutOf(word uint64) int64 {
	idx, ok := wordCap(word)
	if !ok {
		return 0
	}
	if e := d.lookup(idx); e != nil {
		return e.timeout
	}
	return 0
}

// Start launches one worker per shard and the watchdog.
func (d *Dispatcher) Start() error {
	if !d.state.CompareAndSwap(stateNew, stateRunning) {
		return fmt.Errorf("%w: already started", ErrBadConfig)
	}
	for _, sh := range d.shards {
		go sh.loop()
	}
	go d.wd.run()
	return nil
}

// ShardOf is the shard a tenant's invocations run on.
func (d *Dispatcher) ShardOf(t TenantHandle) int { return ShardOf(t, len(d.shards)) }

// Cut closes every session's open batch (those that ran anything since
// their last cut) and hands them to the BatchSink, without stopping any
// shard. It returns once every shard has done so. The cluster calls it
// every T milliseconds.
func (d *Dispatcher) Cut(ctx context.Context) error {
	if d.state.Load() != stateRunning {
		return ErrNotStarted
	}
	dones := make([]chan struct{}, len(d.shards))
	for i, sh := range d.shards {
		dones[i] = make(chan struct{})
		if !sh.enqueue(ctlOp{kind: opCut, done: dones[i]}) {
			return ErrStopped
		}
	}
	for _, c := range dones {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// StopReport says what Stop did.
type StopReport struct {
	// Drained is how many invocations ran to an outcome other than Aborted
	// between the call to Stop and the workers' exit.
	Drained uint64 `json:"drained"`
	// Aborted is how many were not run (or were cancelled) because ctx
	// expired first.
	Aborted uint64       `json:"aborted"`
	Shards  []ShardStats `json:"shards"`
}

// Stop refuses new submissions (ErrStopped), lets every shard run what it
// had accepted, including pending retries, cuts the remaining batches and
// stops the workers. If ctx expires first, what has not run is completed
// as OutcomeAborted (every accepted invocation still gets a completion) and
// the running handler's context is cancelled; Stop then waits for that
// handler to return and reports ErrStopTimedOut.
func (d *Dispatcher) Stop(ctx context.Context) (StopReport, error) {
	if d.state.CompareAndSwap(stateNew, stateStopped) {
		return StopReport{Shards: d.Stats()}, nil
	}
	if !d.state.CompareAndSwap(stateRunning, stateStopping) {
		return StopReport{}, ErrStopped
	}
	before := sumStats(d.Stats())
	for _, sh := range d.shards {
		sh.beginStop()
	}
	err := d.waitShards(ctx)
	if err != nil {
		for _, sh := range d.shards {
			sh.abort()
		}
		_ = d.waitShards(context.Background())
		err = fmt.Errorf("%w: %w", ErrStopTimedOut, err)
	}
	close(d.wd.stop)
	<-d.wd.exited
	d.state.Store(stateStopped)
	stats := d.Stats()
	after := sumStats(stats)
	return StopReport{
		Drained: after.Completed - after.Aborted - (before.Completed - before.Aborted),
		Aborted: after.Aborted - before.Aborted,
		Shards:  stats,
	}, err
}

func (d *Dispatcher) waitShards(ctx context.Context) error {
	for _, sh := range d.shards {
		select {
		case <-sh.exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// AllFlags allows every effect (SessionOptions.Allowed).
const AllFlags = ^capability.Flags(0)

// tenantLimiterFor returns the shared per-tenant limiter for e, or nil when
// e has no per-tenant bound; release it with dropTenantLimiter.
func (d *Dispatcher) tenantLimiterFor(t TenantHandle, e *entry) *limiter {
	bound := e.tenantBound()
	if bound == 0 {
		return nil
	}
	k := limitKey{t, e.index}
	d.limMu.Lock()
	defer d.limMu.Unlock()
	tl := d.tlim[k]
	if tl == nil {
		tl = &tenantLimiter{limiter: newLimiter(bound)}
		d.tlim[k] = tl
	}
	tl.refs++
	return tl.limiter
}

func (d *Dispatcher) dropTenantLimiter(t TenantHandle, e *entry) {
	if e.tenantBound() == 0 {
		return
	}
	k := limitKey{t, e.index}
	d.limMu.Lock()
	defer d.limMu.Unlock()
	if tl := d.tlim[k]; tl != nil {
		if tl.refs--; tl.refs == 0 {
			delete(d.tlim, k)
		}
	}
}
