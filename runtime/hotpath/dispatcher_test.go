package hotpath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/contract"
)

func TestDispatchCompletesInOrderWithOutput(t *testing.T) {
	cfg, _ := testConfig()
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 3, echo, plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "cert-1", 7, 3, sink)
	const n = 1000
	args := make([][]byte, n)
	for i := range args {
		args[i] = []byte(strconv.Itoa(i))
		for s.Submit(uint64(i), args[i]) != nil {
			waitFor(t, "room", time.Second, func() bool { return s.InFlight() < 64 })
		}
	}
	waitFor(t, "completions", 5*time.Second, func() bool { return sink.n() == n })
	for i, c := range sink.all() {
		if c.Seq != uint64(i) || c.Outcome != OutcomeOK || c.Attempts != 1 || c.Err != nil || string(c.Output) != strconv.Itoa(i) {
			t.Fatalf("completion %d: %+v", i, c)
		}
	}
	waitFor(t, "stats", time.Second, func() bool { return d.Totals().Completed == n })
	if st := d.Totals(); st.Accepted != n || st.OK != n || st.Failed != 0 || st.QueueLen != 0 {
		t.Fatalf("stats %+v", st)
	}
	if sink.flushes == 0 {
		t.Fatal("sink never flushed")
	}
}

func TestSubmitBatch(t *testing.T) {
	d, g := gatedDispatcher(t, func(cfg *Config) { cfg.QueueDepth = 8 })
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	reqs := make([]Request, 20)
	for i := range reqs {
		reqs[i] = Request{Seq: uint64(i)}
	}
	if err := s.Submit(100, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first invocation running", time.Second, func() bool { return g.count() == 1 })
	n, err := s.SubmitBatch(reqs)
	if n != 8 || !errors.Is(err, ErrShardFull) {
		t.Fatalf("accepted %d, %v", n, err)
	}
	g.open()
	waitFor(t, "completions", time.Second, func() bool { return sink.n() == 9 })
}

func TestBackPressureShardFull(t *testing.T) {
	d, g := gatedDispatcher(t, func(cfg *Config) { cfg.QueueDepth = 4 })
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	if err := s.Submit(0, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first invocation running", time.Second, func() bool { return g.count() == 1 })
	for i := 1; i <= 4; i++ {
		if err := s.Submit(uint64(i), nil); err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	err := s.Submit(5, nil)
	if !errors.Is(err, ErrShardFull) || cnverr.KindOf(err) != cnverr.ResourceExhausted {
		t.Fatalf("submit to a full shard: %v", err)
	}
	if st := d.Totals(); st.Rejected != 1 || st.Accepted != 5 || st.QueueLen != 4 {
		t.Fatalf("stats %+v", st)
	}
	g.open()
	waitFor(t, "every accepted invocation completes", time.Second, func() bool { return sink.n() == 5 })
	if err := s.Submit(6, nil); err != nil {
		t.Fatalf("after drain: %v", err)
	}
}

func TestSessionWindow(t *testing.T) {
	d, g := gatedDispatcher(t, nil)
	s, err := d.OpenSession(SessionOptions{Key: "k", Tenant: 1, Allowed: AllFlags, Sink: &recSink{}, Window: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Submit(1, nil) != nil || s.Submit(2, nil) != nil {
		t.Fatal("within window refused")
	}
	if err := s.Submit(3, nil); !errors.Is(err, ErrSessionWindow) {
		t.Fatalf("third in a window of 2: %v", err)
	}
	g.open()
	waitFor(t, "window reopens", time.Second, func() bool { return s.Submit(4, nil) == nil })
}

// blockUntilCancelled returns ctx.Err() once the context is cancelled.
func blockUntilCancelled(entered chan<- struct{}) Handler {
	return func(ctx context.Context, c *Call) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestDeadlineCancelsHandler(t *testing.T) {
	cfg, fc := testConfig()
	d := startDispatcher(t, cfg)
	entered := make(chan struct{}, 1)
	spec := Spec{Flags: capability.FlagReadOnly, Timeout: time.Millisecond}
	mustRegister(t, d, 0, blockUntilCancelled(entered), spec)
	var sawErr, sawDeadline = make(chan error, 1), make(chan bool, 1)
	mustRegister(t, d, 1, func(ctx context.Context, c *Call) error {
		_, ok := ctx.Deadline()
		sawDeadline <- ok
		select {
		case <-ctx.Done():
			sawErr <- errors.New("fresh context already done")
		default:
			sawErr <- ctx.Err()
		}
		return nil
	}, spec)
	sink := &recSink{}
	s0 := openSession(t, d, "slow", 1, 0, sink)
	s1 := openSession(t, d, "next", 1, 1, sink)
	if err := s0.Submit(1, nil); err != nil {
		t.Fatal(err)
	}
	<-entered
	waitScans(t, d, 2) // the watchdog has seen the invocation start
	// Not cancelled before the timeout: let the watchdog scan a few times
	// with the clock short of it.
	fc.Advance(500 * time.Microsecond)
	waitScans(t, d, 3)
	if sink.n() != 0 {
		t.Fatal("cancelled before its timeout")
	}
	fc.Advance(600 * time.Microsecond)
	waitFor(t, "deadline completion", time.Second, func() bool { return sink.n() == 1 })
	c := sink.all()[0]
	if c.Outcome != OutcomeDeadlineExceeded || !errors.Is(c.Err, ErrDeadline) || cnverr.KindOf(c.Err) != cnverr.DeadlineExceeded {
		t.Fatalf("completion %+v", c)
	}
	// The next invocation on the same shard gets a live context.
	if err := s1.Submit(2, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-sawErr; err != nil || !<-sawDeadline {
		t.Fatalf("next invocation's context: %v", err)
	}
	waitFor(t, "stats", time.Second, func() bool { return d.Totals().DeadlineExceeded == 1 && d.Totals().OK == 1 })
}

func TestDeadlineRecordedWhenHandlerIgnoresContext(t *testing.T) {
	cfg, fc := testConfig()
	d := startDispatcher(t, cfg)
	entered, release := make(chan struct{}), make(chan struct{})
	mustRegister(t, d, 0, func(ctx context.Context, c *Call) error {
		close(entered)
		<-release // ignores ctx
		return nil
	}, Spec{Timeout: time.Millisecond})
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	_ = s.Submit(1, nil)
	<-entered
	waitScans(t, d, 2)
	fc.Advance(2 * time.Millisecond)
	waitFor(t, "cancellation", time.Second, func() bool { return d.shards[0].cur.Load()&cancelBit != 0 })
	close(release)
	waitFor(t, "completion", time.Second, func() bool { return sink.n() == 1 })
	if c := sink.all()[0]; c.Outcome != OutcomeDeadlineExceeded {
		t.Fatalf("late success recorded as %v", c.Outcome)
	}
}

func TestConcurrencyLimits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		model       contract.ConcurrencyModel
		perTenant   int
		otherTenant int // admitted for a second tenant while the first is full
	}{
		{"exclusive", contract.ConcurrencyModel{Kind: contract.SingleTenantExclusive}, 1, 1},
		{"tenant_wide", contract.ConcurrencyModel{Kind: contract.TenantWideShared, Max: 3}, 3, 3},
		{"global", contract.ConcurrencyModel{Kind: contract.GlobalShared, Max: 3}, 3, 0},
		{"unlimited", contract.ConcurrencyModel{}, 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := testConfig()
			cfg.Shards = 2
			d := startDispatcher(t, cfg)
			g := newGate(t)
			mustRegister(t, d, 0, g.handler, Spec{Concurrency: tc.model})
			sink := &recSink{}
			a := openSession(t, d, "a", 1, 0, sink)
			a2 := openSession(t, d, "a2", 1, 0, sink) // same tenant, another session
			b := openSession(t, d, "b", 2, 0, sink)
			accepted := fill(a, a2, min(tc.perTenant+1, 50))
			if accepted != tc.perTenant {
				t.Fatalf("tenant 1 admitted %d, want %d", accepted, tc.perTenant)
			}
			if tc.perTenant < 50 {
				if err := a.Submit(999, nil); !errors.Is(err, ErrConcurrencyLimit) {
					t.Fatalf("over the bound: %v", err)
				}
			}
			if got := fill(b, b, min(tc.otherTenant+1, 50)); got != tc.otherTenant {
				t.Fatalf("tenant 2 admitted %d, want %d", got, tc.otherTenant)
			}
			g.open()
			total := tc.perTenant + tc.otherTenant
			waitFor(t, "completions", time.Second, func() bool { return sink.n() == total })
			waitFor(t, "slots freed", time.Second, func() bool { return a.Submit(1000, nil) == nil })
		})
	}
}

// fill submits on alternating sessions until a refusal or tries
// submissions; it returns how many were accepted.
func fill(s1, s2 *Session, tries int) int {
	n := 0
	for i := 0; i < tries; i++ {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		if s.Submit(uint64(i), nil) != nil {
			break
		}
		n++
	}
	return n
}

var errFlaky = cnverr.New(cnverr.Unavailable, "flaky backend")

func TestRetriesIdempotent(t *testing.T) {
	cfg, fc := testConfig()
	d := startDispatcher(t, cfg)
	attempts := map[uint64]int{}
	h := func(ctx context.Context, c *Call) error {
		attempts[c.Seq]++ // only the shard's worker runs handlers
		switch c.Seq {
		case 1: // succeeds on the third attempt
			if c.Attempt < 3 {
				return errFlaky
			}
			return nil
		case 2: // never succeeds
			return errFlaky
		default: // not retryable
			return cnverr.New(cnverr.InvalidInput, "bad argument")
		}
	}
	mustRegister(t, d, 0, h, Spec{Flags: capability.FlagReadOnly | capability.FlagIdempotent,
		Timeout: contract.FastPath.Max(), Idempotent: true, Retry: exponential(3, time.Millisecond, 10*time.Millisecond)})
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	for seq := uint64(1); seq <= 3; seq++ {
		if err := s.Submit(seq, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "retries", 5*time.Second, func() bool {
		fc.Advance(time.Millisecond)
		return sink.n() == 3
	})
	got := map[uint64]Completion{}
	for _, c := range sink.all() {
		got[c.Seq] = c
	}
	if c := got[1]; c.Outcome != OutcomeOK || c.Attempts != 3 {
		t.Errorf("seq 1: %+v", c)
	}
	if c := got[2]; c.Outcome != OutcomeFailed || c.Attempts != 3 || !errors.Is(c.Err, errFlaky) {
		t.Errorf("seq 2: %+v", c)
	}
	if c := got[3]; c.Outcome != OutcomeFailed || c.Attempts != 1 {
		t.Errorf("seq 3 (not retryable): %+v", c)
	}
	waitFor(t, "stats", time.Second, func() bool { return d.Totals().Completed == 3 })
	if st := d.Totals(); st.Retried != 4 || st.OK != 1 || st.Failed != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A non-idempotent capability cannot be given a retry policy.
	bad := Spec{Retry: exponential(3, time.Millisecond, time.Second)}
	if err := d.Register(1, h, bad); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("retry without idempotence: %v", err)
	}
}

func TestRetryDoesNotBlockShard(t *testing.T) {
	cfg, fc := testConfig()
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 0, func(ctx context.Context, c *Call) error {
		if c.Seq == 1 {
			return errFlaky
		}
		return nil
	}, Spec{Idempotent: true, Retry: linear(2, time.Hour)})
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	_ = s.Submit(1, nil)
	_ = s.Submit(2, nil)
	waitFor(t, "seq 2 passes the waiting retry", time.Second, func() bool { return sink.n() == 1 })
	if c := sink.all()[0]; c.Seq != 2 {
		t.Fatalf("first completion %+v", c)
	}
	fc.Advance(time.Hour)
	waitFor(t, "the retry runs when due", time.Second, func() bool { return sink.n() == 2 })
}

func TestStopDrainsEverything(t *testing.T) {
	d, g := gatedDispatcher(t, func(cfg *Config) { cfg.Shards = 3 })
	sink := &recSink{}
	var sessions []*Session
	for i := 0; i < 6; i++ {
		sessions = append(sessions, openSession(t, d, fmt.Sprint("s", i), TenantHandle(i+1), 0, sink))
	}
	accepted := 0
	for i := 0; i < 60; i++ {
		if sessions[i%6].Submit(uint64(i), nil) == nil {
			accepted++
		}
	}
	type result struct {
		r   StopReport
		err error
	}
	done := make(chan result)
	go func() {
		r, err := d.Stop(context.Background())
		done <- result{r, err}
	}()
	waitFor(t, "stop refuses new work", time.Second, func() bool {
		err := sessions[0].Submit(1000, nil)
		if err == nil {
			accepted++
		}
		return errors.Is(err, ErrStopped)
	})
	g.open()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if sink.n() != accepted || res.r.Aborted != 0 || res.r.Drained == 0 || res.r.Drained > uint64(accepted) {
		t.Fatalf("accepted %d, completed %d, report %+v", accepted, sink.n(), res.r)
	}
	tot := sumStats(res.r.Shards)
	if tot.Completed != uint64(accepted) || tot.Accepted != uint64(accepted) || tot.QueueLen != 0 {
		t.Fatalf("totals %+v", tot)
	}
	if _, err := d.Stop(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("second stop: %v", err)
	}
}

func TestStopTimeoutAbortsButReportsEverything(t *testing.T) {
	cfg, _ := testConfig()
	d := startDispatcher(t, cfg)
	entered := make(chan struct{}, 16)
	mustRegister(t, d, 0, blockUntilCancelled(entered), plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	for i := 0; i < 10; i++ {
		if err := s.Submit(uint64(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r, err := d.Stop(ctx)
	if !errors.Is(err, ErrStopTimedOut) {
		t.Fatalf("stop: %v", err)
	}
	if r.Aborted != 10 || sink.n() != 10 {
		t.Fatalf("report %+v, completions %d", r, sink.n())
	}
	for _, c := range sink.all() {
		if c.Outcome != OutcomeAborted || !errors.Is(c.Err, ErrAborted) {
			t.Fatalf("completion %+v", c)
		}
	}
}

func TestHandlerPanicIsAFailure(t *testing.T) {
	cfg, _ := testConfig()
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 0, func(ctx context.Context, c *Call) error {
		if c.Seq == 1 {
			panic("boom")
		}
		return nil
	}, plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	_ = s.Submit(1, nil)
	_ = s.Submit(2, nil)
	waitFor(t, "completions", time.Second, func() bool { return sink.n() == 2 })
	got := sink.all()
	if got[0].Outcome != OutcomeFailed || !errors.Is(got[0].Err, ErrHandlerPanic) || got[1].Outcome != OutcomeOK {
		t.Fatalf("completions %+v", got)
	}
	waitFor(t, "panic counted", time.Second, func() bool { return d.Totals().Panics == 1 })
}

func TestRegisterAndOpenErrors(t *testing.T) {
	cfg, _ := testConfig()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenSession(SessionOptions{Key: "k", Sink: &recSink{}}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("open before start: %v", err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	mustRegister(t, d, 5, echo, Spec{Flags: capability.FlagMutateState})
	if err := d.Register(5, echo, plainSpec()); !errors.Is(err, ErrDuplicateHandler) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := d.Register(1<<30, echo, plainSpec()); !errors.Is(err, ErrBadCapIndex) {
		t.Fatalf("huge index: %v", err)
	}
	if err := d.Register(6, nil, plainSpec()); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("nil handler: %v", err)
	}
	base := SessionOptions{Key: "k", Tenant: 1, CapIndex: 5, Allowed: AllFlags, Sink: &recSink{}}
	for _, c := range []struct {
		mod  func(*SessionOptions)
		want error
	}{
		{func(o *SessionOptions) { o.CapIndex = 4 }, ErrNoHandler},
		{func(o *SessionOptions) { o.CapIndex = 500 }, ErrNoHandler},
		{func(o *SessionOptions) { o.Allowed = capability.FlagReadOnly }, ErrEffectNotAllowed},
		{func(o *SessionOptions) { o.Key = "" }, ErrBadSession},
		{func(o *SessionOptions) { o.Sink = nil }, ErrBadSession},
		{func(o *SessionOptions) { o.Window = -1 }, ErrBadSession},
	} {
		o := base
		c.mod(&o)
		if _, err := d.OpenSession(o); !errors.Is(err, c.want) {
			t.Errorf("got %v, want %v", err, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Shards = 0 },
		func(c *Config) { c.Shards = 100000 },
		func(c *Config) { c.QueueDepth = 0 },
		func(c *Config) { c.SessionWindow = 0 },
		func(c *Config) { c.WatchdogTick = time.Nanosecond },
		func(c *Config) { c.Clock = nil },
		func(c *Config) { c.IdleSpin = -1 },
	} {
		c := DefaultConfig()
		mod(&c)
		if _, err := New(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("config %+v accepted: %v", c, err)
		}
	}
}

func TestQuotaCharged(t *testing.T) {
	d, g := gatedDispatcher(t, func(cfg *Config) { cfg.QueueDepth = 2 })
	q := NewQuota(0)
	_ = q.Lease(5)
	sink := &recSink{}
	s, err := d.OpenSession(SessionOptions{Key: "k", Tenant: 1, Allowed: AllFlags, Sink: sink, Quota: q})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Submit(0, nil)
	waitFor(t, "running", time.Second, func() bool { return g.count() == 1 })
	_ = s.Submit(1, nil)
	_ = s.Submit(2, nil)
	if err := s.Submit(3, nil); !errors.Is(err, ErrShardFull) || q.Available() != 2 {
		t.Fatalf("shard full: %v, available %d (a refused submission must not spend)", err, q.Available())
	}
	g.open()
	waitFor(t, "drain", time.Second, func() bool { return sink.n() == 3 })
	_ = s.Submit(4, nil)
	_ = s.Submit(5, nil)
	if err := s.Submit(6, nil); !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("sixth use: %v", err)
	}
	waitFor(t, "drain", time.Second, func() bool { return sink.n() == 5 })
	if q.Spent() != 5 {
		t.Fatalf("spent %d", q.Spent())
	}
}

func TestCloseWaitsForInFlight(t *testing.T) {
	cfg, _ := testConfig()
	br := &batchRec{}
	cfg.BatchSink = br.sink
	d := startDispatcher(t, cfg)
	g := newGate(t)
	mustRegister(t, d, 0, g.handler, plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	_ = s.Submit(1, nil)
	_ = s.Submit(2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, ErrCloseTimedOut) {
		t.Fatalf("close with work in flight: %v", err)
	}
	if err := s.Submit(3, nil); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("submit after close: %v", err)
	}
	g.open()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs := br.all()
	if sink.n() != 2 || len(bs) != 1 || !bs[0].Final || bs[0].Count != 2 {
		t.Fatalf("completions %d, batches %+v", sink.n(), bs)
	}
}

func TestDeadlineAndRetryTogether(t *testing.T) {
	// An idempotent capability whose attempt times out is not retried:
	// the deadline is the contract's bound on the invocation.
	cfg, fc := testConfig()
	d := startDispatcher(t, cfg)
	entered := make(chan struct{}, 4)
	mustRegister(t, d, 0, blockUntilCancelled(entered), Spec{
		Timeout: time.Millisecond, Idempotent: true, Retry: linear(3, time.Millisecond)})
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	_ = s.Submit(1, nil)
	<-entered
	waitScans(t, d, 2)
	fc.Advance(2 * time.Millisecond)
	waitFor(t, "completion", time.Second, func() bool { return sink.n() == 1 })
	if c := sink.all()[0]; c.Outcome != OutcomeDeadlineExceeded || c.Attempts != 1 {
		t.Fatalf("%+v", c)
	}
}

func TestOutcomeNames(t *testing.T) {
	for o, want := range map[Outcome]string{OutcomeOK: "ok", OutcomeFailed: "failed",
		OutcomeDeadlineExceeded: "deadline_exceeded", OutcomeAborted: "aborted"} {
		b, err := o.MarshalText()
		if err != nil || !bytes.Equal(b, []byte(want)) || o.String() != want {
			t.Errorf("%d: %s %v", o, b, err)
		}
	}
	if _, err := Outcome(9).MarshalText(); err == nil {
		t.Error("unknown outcome marshalled")
	}
}
