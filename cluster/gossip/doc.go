// Package gossip is cnv's membership and graph-distribution engine, built on
// hashicorp/memberlist (SWIM failure detection over UDP, push/pull state
// exchange over TCP, optional AES-GCM encryption).
//
// It owns:
//   - membership: every node (server or edge) advertises its node id, role,
//     Raft and API addresses, applied index and graph (index, hash) in
//     compact metadata, and sees the others as alive, suspect, dead or left;
//   - graph snapshots: servers publish immutable capability-graph snapshots;
//     members that are behind fetch the newest one (by state exchange or a
//     Config.Fetch hook), verify its hash and swap it in atomically, so graph
//     reads stay local;
//   - Reconcile: the pure autopilot decision function that turns the Raft
//     configuration and gossip membership into add/promote/remove actions.
//     Gossip only proposes; the Raft leader applies.
//
// It must not import cluster/, fsm/ or anything above them: the
// node (cluster/) drives it, applies its actions and backs Config.Fetch.
package gossip
