// Package hotlease is the hot path's part of the cluster layer: the fsm
// Commands that govern hot-path sessions without a Raft round trip per
// invocation.
//
//   - Leased quotas (Leaser, Lease): when a chain has links with max_uses, a
//     session leases blocks of uses through Raft (fsm KindHotLease: charged
//     on every link, all or nothing, capped by what every limited link has
//     left), spends them locally through hotpath.Quota, leases the next
//     block ahead of need (the pacer), and settles at close (fsm
//     KindHotReturn: the unspent rest is credited back). A crashed node
//     never settles, so its leased uses stay charged: the cluster-wide
//     spent sum never exceeds max_uses. When it restarts, it frees the old
//     run's lease records (settled as fully spent).
//   - Accountability (Recorder): the dispatcher's BatchSink; it commits
//     every closed hotpath.Batch as HotPathBatch ledger events (fsm
//     KindHotBatch), one per flush interval or per
//     limits.MaxHotPathSessions batches.
//
// DESIGN.md gives the reasons. hot/node wires both into a node's hot path.
//
// hotlease imports fsm, ledger and runtime/* (it may import cluster); it
// talks to the node only through the small Node interface (*cluster.Node
// implements it). It must not import hot/* or anything above the cluster:
// what it needs of the protocol side it declares here.
package hotlease
