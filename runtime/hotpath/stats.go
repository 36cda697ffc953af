package hotpath

import "sync/atomic"

// ShardStats are one shard's counters. Accepted counts submissions that
// entered the queue; Rejected counts refused submissions (full shard,
// session window, concurrency limit, exhausted quota, closed session or
// stopped dispatcher). Every accepted invocation ends in exactly one of
// OK, Failed, DeadlineExceeded and Aborted, whose sum is Completed; Retried
// counts extra attempts. Worker-side counters are published once per run,
// so they may trail the work by up to RunLength invocations.
type ShardStats struct {
	Shard            int    `json:"shard"`
	Accepted         uint64 `json:"accepted"`
	Rejected         uint64 `json:"rejected"`
	Completed        uint64 `json:"completed"`
	OK               uint64 `json:"ok"`
	Failed           uint64 `json:"failed"`
	DeadlineExceeded uint64 `json:"deadline_exceeded"`
	Aborted          uint64 `json:"aborted"`
	Retried          uint64 `json:"retried"`
	Panics           uint64 `json:"panics"`
	QueueLen         int    `json:"queue_len"`
	PeakQueueDepth   int    `json:"peak_queue_depth"`
	QueueCapacity    int    `json:"queue_capacity"`
}

// Stats returns every shard's counters.
func (d *Dispatcher) Stats() []ShardStats {
	out := make([]ShardStats, len(d.shards))
	for i, sh := range d.shards {
		out[i] = sh.stats()
	}
	return out
}

// Totals sums the counters of every shard (Shard is -1).
func (d *Dispatcher) Totals() ShardStats { return sumStats(d.Stats()) }

func sumStats(ss []ShardStats) ShardStats {
	t := ShardStats{Shard: -1}
	for _, s := range ss {
		t.Accepted += s.Accepted
		t.Rejected += s.Rejected
		t.Completed += s.Completed
		t.OK += s.OK
		t.Failed += s.Failed
		t.DeadlineExceeded += s.DeadlineExceeded
		t.Aborted += s.Aborted
		t.Retried += s.Retried
		t.Panics += s.Panics
		t.QueueLen += s.QueueLen
		t.PeakQueueDepth = max(t.PeakQueueDepth, s.PeakQueueDepth)
		t.QueueCapacity += s.QueueCapacity
	}
	return t
}

// workerCounts are counted by the worker alone in plain fields and
// published to pubCounts at the end of each run.
type workerCounts struct {
	byOutcome [numOutcomes]uint64
	retried   uint64
	panics    uint64
	peak      int
}

type pubCounts struct {
	byOutcome [numOutcomes]atomic.Uint64
	retried   atomic.Uint64
	panics    atomic.Uint64
	peak      atomic.Int64
}

func (p *pubCounts) publish(w *workerCounts) {
	for i := range w.byOutcome {
		p.byOutcome[i].Store(w.byOutcome[i])
	}
	p.retried.Store(w.retried)
	p.panics.Store(w.panics)
	p.peak.Store(int64(w.peak))
}

func (sh *shard) stats() ShardStats {
	q := sh.q.Stats()
	p := &sh.pub
	s := ShardStats{
		Shard: sh.id, Accepted: q.Enqueued, Rejected: sh.rejected.Load(),
		OK: p.byOutcome[OutcomeOK].Load(), Failed: p.byOutcome[OutcomeFailed].Load(),
		DeadlineExceeded: p.byOutcome[OutcomeDeadlineExceeded].Load(),
		Aborted:          p.byOutcome[OutcomeAborted].Load(),
		Retried:          p.retried.Load(), Panics: p.panics.Load(),
		QueueLen: q.Len, PeakQueueDepth: int(p.peak.Load()), QueueCapacity: q.Capacity,
	}
	s.Completed = s.OK + s.Failed + s.DeadlineExceeded + s.Aborted
	return s
}
