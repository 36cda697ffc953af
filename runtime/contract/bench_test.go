package contract

import (
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
