package contract

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

// The original attached contracts to types at compile time (Fast gave
// FastPath/Unlimited, Slow gave Batch/Exclusive); here a registry maps
// capability IDs to contracts.
func TestRegistry(t *testing.T) {
	r, err := NewRegistry(Default())
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := Default(), Default()
	fast.Temporal.Class = FastPath
	slow.Temporal.Class = Batch
	slow.Concurrency.Model = ConcurrencyModel{Kind: SingleTenantExclusive}
	fastID, slowID := capability.FromPath("cache.get"), capability.FromPath("report.build")
	if err := r.Register(fastID, fast); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(slowID, slow); err != nil {
		t.Fatal(err)
	}
	if c := r.Lookup(fastID); c.Temporal.Class != FastPath || c.Concurrency.Model.Kind != Unlimited {
		t.Errorf("fast: %+v", c)
	}
	if c := r.Lookup(slowID); c.Temporal.Class != Batch || c.Concurrency.Model.Kind != SingleTenantExclusive {
		t.Errorf("slow: %+v", c)
	}
	other := capability.FromPath("user.read")
	if _, ok := r.Get(other); ok {
		t.Error("an unregistered capability has no registered contract")
	}
	if c := r.Lookup(other); c != r.Default() || c.Temporal.Class != Interactive {
		t.Errorf("unregistered capability must get the default, got %+v", c)
	}
	if !r.Remove(fastID) || r.Remove(fastID) || r.Len() != 1 {
		t.Error("Remove must report whether a contract was there")
	}
}

func TestRegistryRejects(t *testing.T) {
	if _, err := NewRegistry(Contract{}); !errors.Is(err, ErrInvalidContract) {
		t.Fatalf("an invalid default must be refused, got %v", err)
	}
	r, _ := NewRegistry(Default())
	if err := r.Register("user.create", Default()); !errors.Is(err, capability.ErrInvalidID) {
		t.Errorf("a path is not an ID: got %v", err)
	}
	bad := Default()
	bad.Concurrency.Model.Kind = TenantWideShared
	if err := r.Register(capability.FromPath("a.b"), bad); !errors.Is(err, ErrInvalidContract) {
		t.Errorf("an invalid contract must be refused, got %v", err)
	}
	if r.Len() != 0 {
		t.Error("refused registrations must not be stored")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r, _ := NewRegistry(Default())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := Default()
			c.Temporal.Class = AllClasses()[w]
			for i := 0; i < 200; i++ {
				id := capability.FromPath(fmt.Sprintf("n%d.v%d", w, i))
				if err := r.Register(id, c); err != nil {
					t.Error(err)
					return
				}
				if got := r.Lookup(id); got.Temporal.Class != c.Temporal.Class {
					t.Errorf("lookup after register: %v", got.Temporal.Class)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if r.Len() != 800 {
		t.Fatalf("Len = %d, want 800", r.Len())
	}
}
