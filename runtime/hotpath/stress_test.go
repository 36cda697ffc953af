package hotpath

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/clock"
)

type countSink struct{ n atomic.Int64 }

func (c *countSink) Complete(*Session, *Completion) { c.n.Add(1) }
func (c *countSink) Flush(*Session)                 {}

func TestDispatchPathDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations across goroutines")
	}
	cfg, _ := testConfig()
	cfg.Clock = clock.System{}
	var batches atomic.Int64
	cfg.BatchSink = func(Batch) { batches.Add(1) }
	cfg.BatchMaxCount = 100
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 0, echo, Spec{Timeout: time.Second})
	sink := &countSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	args := []byte("--name alice")
	seq := uint64(0)
	run := func() {
		seq++
		if err := s.Submit(seq, args); err != nil {
			t.Fatal(err)
		}
		for sink.n.Load() < int64(seq) {
			runtime.Gosched()
		}
	}
	for i := 0; i < 200; i++ { // warm up: Out buffer, Done channel, timers
		run()
	}
	if n := testing.AllocsPerRun(2000, run); n != 0 {
		t.Fatalf("%v allocations per invocation", n)
	}
	if batches.Load() == 0 {
		t.Fatal("digest path not exercised")
	}
}

// TestDispatchStress runs many sessions on several shards from concurrent
// submitters, with failures, cuts and closes racing, and checks that every
// accepted invocation is completed exactly once and accounted for in
// exactly one batch.
func TestDispatchStress(t *testing.T) {
	r := seededRand(t)
	cfg, _ := testConfig()
	cfg.Clock = clock.System{}
	cfg.Shards = 4
	cfg.QueueDepth = 32
	var bmu sync.Mutex
	batched := map[string]uint64{}
	finals := map[string]int{}
	cfg.BatchSink = func(b Batch) {
		bmu.Lock()
		batched[b.Key] += b.Count
		if b.Final {
			finals[b.Key]++
		}
		bmu.Unlock()
	}
	cfg.BatchMaxCount = uint64(r.IntN(50) + 1)
	d := startDispatcher(t, cfg)
	failEvery := uint64(r.IntN(5) + 2)
	mustRegister(t, d, 0, func(ctx context.Context, c *Call) error {
		if c.Seq%failEvery == 0 {
			return errors.New("planned failure")
		}
		return nil
	}, plainSpec())
	const submitters, perSubmitter, sessionsEach = 4, 3000, 4
	type sess struct {
		s        *Session
		sink     *countSink
		accepted int64
	}
	all := make([][]*sess, submitters)
	for g := range all {
		for j := 0; j < sessionsEach; j++ {
			sk := &countSink{}
			key := fmt.Sprintf("s%d-%d", g, j)
			all[g] = append(all[g], &sess{s: openSession(t, d, key, TenantHandle(r.IntN(8)+1), 0, sk), sink: sk})
		}
	}
	stopCuts := make(chan struct{})
	var cuts sync.WaitGroup
	cuts.Add(1)
	go func() {
		defer cuts.Done()
		for {
			select {
			case <-stopCuts:
				return
			case <-time.After(200 * time.Microsecond):
				_ = d.Cut(context.Background())
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSubmitter; i++ {
				x := all[g][i%sessionsEach]
				if err := x.s.Submit(uint64(i), nil); err == nil {
					x.accepted++
				} else if !errors.Is(err, ErrShardFull) && !errors.Is(err, ErrSessionWindow) {
					t.Error(err)
				} else {
					runtime.Gosched()
				}
			}
			for _, x := range all[g] {
				if err := x.s.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stopCuts)
	cuts.Wait()
	if _, err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var accepted int64
	for _, ss := range all {
		for _, x := range ss {
			accepted += x.accepted
			if x.sink.n.Load() != x.accepted {
				t.Fatalf("%s: accepted %d, completed %d", x.s.Key(), x.accepted, x.sink.n.Load())
			}
			if batched[x.s.Key()] != uint64(x.accepted) || finals[x.s.Key()] != 1 {
				t.Fatalf("%s: accepted %d, batched %d, final batches %d", x.s.Key(), x.accepted, batched[x.s.Key()], finals[x.s.Key()])
			}
		}
	}
	tot := d.Totals()
	if tot.Accepted != uint64(accepted) || tot.Completed != uint64(accepted) || tot.QueueLen != 0 {
		t.Fatalf("accepted %d, totals %+v", accepted, tot)
	}
	t.Logf("accepted %d of %d, totals %+v", accepted, submitters*perSubmitter, tot)
	if accepted == 0 || tot.Failed == 0 {
		t.Fatalf("stress did too little: accepted %d, failed %d", accepted, tot.Failed)
	}
}
