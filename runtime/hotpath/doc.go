// Package hotpath owns cnv's zero-allocation hot path: compact agent and
// tenant handles, the 32-byte invocation Context, the branch-free
// effect-flag check (Within), the bounded lock-free Ring queue, the use
// Quota for leased max_uses blocks, and the sharded Dispatcher that runs
// FastPath invocations under their execution contracts. Its counters are
// the dispatcher's (Stats, ShardStats, Totals); hot/node reports them on
// /metrics.
//
// It imports only runtime/capability, runtime/contract, runtime/clock,
// runtime/cnverr and runtime/limits. It must not import the ledger, the
// FSM, the cluster or transport: the cluster drives it (certified sessions,
// quota leases through Raft, HotPathBatch ledger events, the wire protocol)
// through the API below.
//
// # Dispatcher
//
// A Dispatcher has N shards; a tenant's invocations all run on shard
// ShardOf(tenant, N), on that shard's single worker goroutine, in the order
// its queue received them. Handlers are registered by capability index in a
// dense table; a session resolves its capability once, at OpenSession, so
// the per-invocation path does no lookup at all.
//
// Submission copies a 40-byte invocation (session, sequence number, args
// slice) into a preallocated ring slot; completion is reported to the
// session's Sink on the worker, and the Completion struct is reused. Neither
// side allocates per invocation (BenchmarkDispatch checks 0 allocs/op).
// A pipelined caller submits many (SubmitBatch), receives completions in
// submission order carrying its sequence numbers, and writes one response
// batch per Sink.Flush.
//
// Back-pressure is a refusal, never a wait and never a silent drop: a full
// shard queue is ErrShardFull, a session over its window ErrSessionWindow,
// a capability over its contract's concurrency bound ErrConcurrencyLimit,
// an exhausted lease ErrQuotaExhausted. Concurrency bounds count
// invocations in flight (accepted, not yet completed): SingleTenantExclusive
// allows 1 per tenant, TenantWideShared{n} n per tenant, GlobalShared{n} n
// over all tenants. Over the bound, a submission is refused at once rather
// than queued, so a client sees the contract and a shard's queue never holds
// work it cannot start.
//
// Timeouts (the contract's effective timeout) are enforced by a watchdog
// goroutine that samples each shard's running invocation every
// Config.WatchdogTick: an invocation that has run for its timeout has its
// context cancelled and its outcome recorded as DeadlineExceeded, whatever
// the handler returns. Failed attempts of idempotent capabilities are
// retried per the contract's retry policy (jittered deterministically from
// the session key and sequence number); a waiting retry sits in a per-shard
// heap and does not block the shard. Stop drains everything accepted,
// pending retries included.
//
// # Accountability
//
// Every completed invocation enters its session's open batch: a SHA-256
// chained over DigestDomain, the previous batch's digest, the session's
// binding (capability index, agent, tenant, correlation, key) and each
// entry (sequence, outcome, attempts, args) in execution order; see
// BatchDigest for the exact bytes. SHA-256 and not a cheaper keyed hash:
// clients choose the args, and a non-cryptographic hash would let them
// make two different histories digest alike.
// Cut (every T ms), Config.BatchMaxCount (every N invocations), Session.Close
// and Stop close batches and hand them to Config.BatchSink without stopping
// the shard; the cluster commits each as a HotPathBatch ledger event.
// Batch times are the worker's clock reading at the start of the run
// (at most RunLength invocations) in which an invocation completed.
package hotpath
