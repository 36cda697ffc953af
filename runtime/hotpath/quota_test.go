package hotpath

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestQuotaSpendsLeasedBlocksOnly(t *testing.T) {
	q := NewQuota(0)
	if err := q.TrySpend(1); !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("empty quota spent: %v", err)
	}
	if err := q.Lease(0); !errors.Is(err, ErrBadLease) {
		t.Fatalf("zero lease: %v", err)
	}
	if err := q.Lease(3); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := q.TrySpend(1); err != nil {
			t.Fatalf("spend %d: %v", i, err)
		}
	}
	if err := q.TrySpend(1); !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("fourth spend: %v", err)
	}
	if err := q.TrySpend(0); !errors.Is(err, ErrBadLease) {
		t.Fatalf("spend 0: %v", err)
	}
	_ = q.Lease(2)
	if err := q.TrySpend(3); !errors.Is(err, ErrQuotaExhausted) || q.Available() != 2 {
		t.Fatalf("partial spend: %v, available %d", err, q.Available())
	}
	if q.Leased() != 5 || q.Spent() != 3 {
		t.Fatalf("leased %d spent %d", q.Leased(), q.Spent())
	}
}

func TestQuotaLowWaterAndReturn(t *testing.T) {
	q := NewQuota(2)
	_ = q.Lease(5)
	for i := 0; i < 2; i++ {
		_ = q.TrySpend(1)
	}
	select {
	case <-q.LowWater():
		t.Fatal("signalled with 3 left")
	default:
	}
	_ = q.TrySpend(1) // 2 left: the mark
	select {
	case <-q.LowWater():
	default:
		t.Fatal("no signal at the low-water mark")
	}
	_ = q.TrySpend(1)
	select {
	case <-q.LowWater():
		t.Fatal("signalled twice for one crossing")
	default:
	}
	if n := q.Return(); n != 1 || q.Available() != 0 || q.Returned() != 1 {
		t.Fatalf("returned %d, available %d", n, q.Available())
	}
	if err := q.TrySpend(1); !errors.Is(err, ErrQuotaExhausted) {
		t.Fatal("spend after return")
	}
	if q.Leased() != q.Spent()+q.Returned()+q.Available() {
		t.Fatal("accounting identity")
	}
}

// TestQuotaNeverOverspendsUnderConcurrency runs spenders against a leaser
// and a returner; total successful spends must never exceed the uses leased
// minus the uses returned, and the books must balance at the end.
func TestQuotaNeverOverspendsUnderConcurrency(t *testing.T) {
	q := NewQuota(16)
	var spent, returned, leased atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if q.TrySpend(1) == nil {
					spent.Add(1)
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the owner: leases on low water, sometimes returns
		defer wg.Done()
		for i := 0; i < 500; i++ {
			_ = q.Lease(50)
			leased.Add(50)
			if i%7 == 0 {
				returned.Add(q.Return())
			}
			for q.Available() > 16 {
				runtime.Gosched()
			}
		}
		close(stop)
	}()
	wg.Wait()
	if spent.Load()+returned.Load()+q.Available() != leased.Load() {
		t.Fatalf("spent %d + returned %d + available %d != leased %d",
			spent.Load(), returned.Load(), q.Available(), leased.Load())
	}
	if q.Spent() != spent.Load() || q.Leased() != leased.Load() || q.Returned() != returned.Load() {
		t.Fatalf("quota's books %d/%d/%d differ from the test's %d/%d/%d",
			q.Spent(), q.Leased(), q.Returned(), spent.Load(), leased.Load(), returned.Load())
	}
}
