package contract

import (
	"github.com/cnv-project/cnv/runtime/capability"
	"testing"
	"time"
)

func BenchmarkJitteredDelay(b *testing.B) {
	p := RetryPolicy{Kind: ExponentialBackoff, MaxAttempts: 10, InitialDelay: time.Millisecond, MaxDelay: time.Second, Jitter: 0.2}
	b.ReportAllocs()
	var sink time.Duration
	for i := 0; b.Loop(); i++ {
		d, _ := p.JitteredDelay(1+i%9, uint64(i))
		sink += d
	}
	_ = sink
}

func BenchmarkRegistryLookup(b *testing.B) {
	r, _ := NewRegistry(Default())
	id := capability.FromPath("user.read")
	_ = r.Register(id, fullContract())
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Lookup(id)
	}
}
