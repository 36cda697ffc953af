package hotpath

import (
	"math"
	"sync/atomic"
	"time"
)

// Metrics are the hot path's counters (the original's HotPathMetrics).
// Every method is safe for concurrent use.
type Metrics struct {
	invocations atomic.Uint64
	totalNanos  atomic.Uint64
	peakDepth   atomic.Uint64
	arenaUtil   atomic.Uint64 // float64 bits, percent
	cacheHits   atomic.Uint64
	cacheMisses atomic.Uint64
}

// RecordInvocation counts one invocation that took d.
func (m *Metrics) RecordInvocation(d time.Duration) { m.RecordInvocations(1, d) }

// RecordInvocations counts n invocations that together took d.
func (m *Metrics) RecordInvocations(n uint64, d time.Duration) {
	m.invocations.Add(n)
	if d > 0 {
		m.totalNanos.Add(uint64(d))
	}
}

// ObserveQueueDepth raises the peak queue depth to depth if it is higher.
func (m *Metrics) ObserveQueueDepth(depth int) {
	d := uint64(max(depth, 0))
	for {
		p := m.peakDepth.Load()
		if d <= p || m.peakDepth.CompareAndSwap(p, d) {
			return
		}
	}
}

// SetArenaUtilization records the latest arena utilisation (percent).
func (m *Metrics) SetArenaUtilization(pct float64) { m.arenaUtil.Store(math.Float64bits(pct)) }

// CacheHit counts a cache hit; CacheMiss a miss.
func (m *Metrics) CacheHit()  { m.cacheHits.Add(1) }
func (m *Metrics) CacheMiss() { m.cacheMisses.Add(1) }

// MetricsSnapshot is a point-in-time copy of Metrics.
type MetricsSnapshot struct {
	Invocations      uint64  `json:"invocations_processed"`
	TotalNanos       uint64  `json:"total_nanos"`
	PeakQueueDepth   uint64  `json:"peak_queue_depth"`
	ArenaUtilization float64 `json:"arena_utilization"`
	CacheHits        uint64  `json:"cache_hits"`
	CacheMisses      uint64  `json:"cache_misses"`
}

// Snapshot copies the counters.
func (m *Metrics) Snapshot() MetricsSnapshot {
	return MetricsSnapshot{
		Invocations:      m.invocations.Load(),
		TotalNanos:       m.totalNanos.Load(),
		PeakQueueDepth:   m.peakDepth.Load(),
		ArenaUtilization: math.Float64frombits(m.arenaUtil.Load()),
		CacheHits:        m.cacheHits.Load(),
		CacheMisses:      m.cacheMisses.Load(),
	}
}

// AvgLatencyNanos is TotalNanos / Invocations, 0 when nothing ran.
func (s MetricsSnapshot) AvgLatencyNanos() uint64 {
	if s.Invocations == 0 {
		return 0
	}
	return s.TotalNanos / s.Invocations
}

// CacheHitRate is hits / (hits + misses) in percent, 0 with no lookups.
func (s MetricsSnapshot) CacheHitRate() float64 {
	total := s.CacheHits + s.CacheMisses
	if total == 0 {
		return 0
	}
	return float64(s.CacheHits) / float64(total) * 100
}

// ThroughputPerSec is Invocations per second of elapsed, 0 when elapsed is
// not positive.
func (s MetricsSnapshot) ThroughputPerSec(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(s.Invocations) / elapsed.Seconds()
}
