// Package hotnode connects the hot path to the cluster: it is the node's
// hot/server Authority and the dispatcher's BatchSink.
//
//   - Certified sessions on any node: a certificate opens a session when a
//     node key in the replicated state (fsm View Nodes) signed it, it is in
//     its time window, it was issued to the key that proved itself, and no
//     link of its delegation chain is revoked or past its window in the
//     replicated state. A Watcher re-reads the live sessions' links after
//     every applied change (at most every Config.WatchInterval, and at least
//     that often for link expiry): a revocation ends every session through
//     it on this node within WatchInterval (default 20 ms) of being applied
//     here, and stops local spending at once.
//   - Leased quotas: when a chain has links with max_uses, the session
//     leases blocks of uses through Raft (fsm KindHotLease: charged on every
//     link, all or nothing, capped by what every limited link has left),
//     spends them locally through hotpath.Quota, leases the next block on
//     LowWater, and settles at close (fsm KindHotReturn: the unspent rest is
//     credited back). A crashed node never settles, so its leased uses stay
//     charged: the cluster-wide spent sum never exceeds max_uses. When it
//     restarts, it frees the old run's lease records (settled as fully
//     spent).
//   - Accountability: a Recorder receives every closed hotpath.Batch and
//     commits them as HotPathBatch ledger events (fsm KindHotBatch), one per
//     Config.FlushInterval or per limits.MaxHotPathSessions batches.
//
// Service wires a dispatcher, the built-in capabilities, the authority, the
// recorder and a hot/server Server for `cnv-node agent --hot-addr`.
//
// hotnode imports hot/server, hot/proto, fsm, ledger and runtime/*; it
// talks to the cluster only through the small Node interface (*cluster.Node
// implements it). Nothing below transport imports it.
package hotnode
