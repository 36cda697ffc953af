// Package node wires a cluster node's hot path: a hot/server Server whose
// Authority is backed by the replicated state, the revocation watch, and
// the Raft-leased quotas and batch recorder of cluster/hotlease.
//
//   - Certified sessions on any node: a certificate opens a session when a
//     node key in the replicated state (fsm View Nodes) signed it, it is in
//     its time window, it was issued to the key that proved itself, and no
//     link of its delegation chain is revoked or past its window in the
//     replicated state. The Authority's watcher re-reads the live sessions'
//     links after every applied change (at most every
//     Config.WatchInterval, and at least that often for link expiry): a
//     revocation ends every session through it on this node within
//     WatchInterval (default 20 ms) of being applied here, and stops local
//     spending at once.
//   - Leased quotas: when a chain has links with max_uses, the session's
//     uses are leased through Raft and settled at close by a
//     hotlease.Leaser (charged on every link, all or nothing; a crashed
//     node's leases stay charged).
//   - Accountability: a hotlease.Recorder is the dispatcher's BatchSink and
//     commits every closed hotpath.Batch as a HotPathBatch ledger event.
//
// Service wires a dispatcher, the built-in capabilities, the authority, the
// recorder and a hot/server Server for `cnv-node agent --hot-addr`.
// DESIGN.md gives the reasons and the measurements.
//
// node imports hot/server, hot/proto, cluster/hotlease, fsm and runtime/*
// (its tests also hot/client, and internal/testcluster for a cluster whose
// nodes run the hot path); it talks
// to the cluster only through the small Node interface (*cluster.Node
// implements it). It must not be imported by hot/proto, hot/server,
// hot/client or anything of the cluster.
package node
