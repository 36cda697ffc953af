package hotlease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// BatchDigestDomain starts the bytes of a HotPathBatch event's digest:
// SHA-256(BatchDigestDomain | each session's 32-byte batch digest, in the
// event's order). Each session digest chains that session's invocations
// (hotpath.BatchDigest), so the event digest covers every invocation it
// accounts for. The string is part of the ledger format: it keeps the name
// of the package this code came from (transport/hotnode) and never changes.
const BatchDigestDomain = "cnv/hotnode/batch/v1\x00"

// maxPending bounds the session batches waiting to be committed while the
// cluster has no leader; beyond it the oldest are dropped and counted.
const maxPending = 64 * limits.MaxHotPathSessions

// Recorder commits closed hot-path batches as HotPathBatch ledger events.
// Sink is the dispatcher's Config.BatchSink; Run cuts the dispatcher's
// batches every interval and commits what arrived.
type Recorder struct {
	node     Node
	log      hclog.Logger
	interval time.Duration

	mu      sync.Mutex
	pending []event.HotPathSession
	kick    chan struct{}

	committed atomic.Uint64 // invocations ledgered
	events    atomic.Uint64
	dropped   atomic.Uint64
}

// NewRecorder returns a recorder committing through node every interval
// (default 200ms) or every limits.MaxHotPathSessions batches.
func NewRecorder(node Node, log hclog.Logger, interval time.Duration) *Recorder {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Recorder{node: node, log: log, interval: interval, kick: make(chan struct{}, 1)}
}

// Sink receives a closed batch on a shard worker; it only queues it.
func (r *Recorder) Sink(b hotpath.Batch) {
	if b.Count == 0 && !b.Final {
		return // nothing ran since the previous batch
	}
	s := event.HotPathSession{
		Certificate: b.Key, Shard: uint32(b.Shard), Number: b.Number, Count: b.Count, OK: b.OK,
		Failed: b.Failed + b.DeadlineExceeded + b.Aborted, First: b.FirstNanos, Last: b.LastNanos,
		Prev: hex.EncodeToString(b.Prev[:]), Digest: hex.EncodeToString(b.Digest[:]), Final: b.Final,
	}
	r.mu.Lock()
	if len(r.pending) >= maxPending {
		r.pending = r.pending[1:]
		r.dropped.Add(1)
	}
	r.pending = append(r.pending, s)
	full := len(r.pending) >= limits.MaxHotPathSessions
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Run cuts d's batches every interval and commits them until ctx ends.
func (r *Recorder) Run(ctx context.Context, d *hotpath.Dispatcher) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, r.interval)
			if err := d.Cut(cctx); err != nil && ctx.Err() == nil {
				r.log.Warn("cutting hot-path batches failed", "error", err)
			}
			cancel()
		case <-r.kick:
		}
		if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("committing hot-path batches failed; retrying", "error", err)
		}
	}
}

// Flush commits every pending batch, limits.MaxHotPathSessions per event.
// Batches whose commit failed stay pending.
func (r *Recorder) Flush(ctx context.Context) error {
	for {
		r.mu.Lock()
		n := min(len(r.pending), limits.MaxHotPathSessions)
		take := append([]event.HotPathSession(nil), r.pending[:n]...)
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		if err := r.commit(ctx, take); err != nil {
			return err
		}
		r.mu.Lock()
		r.pending = r.pending[n:]
		r.mu.Unlock()
	}
}

func (r *Recorder) commit(ctx context.Context, ss []event.HotPathSession) error {
	b := batchEvent(r.node.ID(), ss)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := r.node.Propose(ctx, []fsm.Command{{Kind: fsm.KindHotBatch, HotBatch: &fsm.HotBatch{Batch: b}}})
	if err != nil {
		return err
	}
	if len(res) != 1 || res[0].Err != nil {
		return fmt.Errorf("hot-path batch refused: %+v", res)
	}
	r.committed.Add(b.Total)
	r.events.Add(1)
	return nil
}

// batchEvent builds the ledger payload for sessions: per-shard counts, the
// window, and the digest over the session digests.
func batchEvent(node string, ss []event.HotPathSession) event.HotPathBatch {
	b := event.HotPathBatch{NodeID: node, Sessions: ss}
	shards := map[uint32]uint64{}
	h := sha256.New()
	h.Write([]byte(BatchDigestDomain))
	for i, s := range ss {
		shards[s.Shard] += s.Count
		b.Total += s.Count
		if i == 0 || s.First < b.Since {
			b.Since = s.First
		}
		b.Until = max(b.Until, s.Last)
		d, _ := hex.DecodeString(s.Digest)
		h.Write(d)
	}
	for sh, n := range shards {
		b.Shards = append(b.Shards, event.ShardCount{Shard: sh, Count: n})
	}
	sort.Slice(b.Shards, func(i, j int) bool { return b.Shards[i].Shard < b.Shards[j].Shard })
	b.Digest = hex.EncodeToString(h.Sum(nil))
	return b
}

// RecorderStats are a recorder's counters.
type RecorderStats struct {
	// Committed is the invocations accounted for in committed events.
	Committed uint64 `json:"committed"`
	Events    uint64 `json:"events"`
	Pending   int    `json:"pending"`
	// Dropped counts session batches dropped while commits kept failing.
	Dropped uint64 `json:"dropped"`
}

// Stats returns the counters.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	p := len(r.pending)
	r.mu.Unlock()
	return RecorderStats{Committed: r.committed.Load(), Events: r.events.Load(), Pending: p, Dropped: r.dropped.Load()}
}
