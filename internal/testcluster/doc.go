// Package testcluster runs cnv clusters inside a test: real *cluster.Node
// values with real state.db files in temp dirs, started, stopped,
// restarted, partitioned and inspected by one set of helpers.
//
// Two flavours:
//
//   - New (the default): Raft over raft.InmemTransport, raft.InmemStore and
//     an in-memory snapshot store, kept across a restart. Node-to-node
//     calls (cluster.Remote) go in process to the leader's *cluster.Node,
//     with the forwarder's rules (the asking node's view of the leader,
//     retry while the answer is "not the leader", a hold time). No
//     sockets; Partition and Heal cut and restore both the transport and
//     the node-to-node calls.
//   - NewHTTP: every node wired as cmd/cnv-node wires it — Raft over
//     loopback TCP with raft-boltdb and file snapshots, the HTTP API
//     (httpapi.Server) with forward and peer — for tests of the API.
//
// Options.OnStart runs extra per-node services (the hot path) and
// Crash stops a node as a killed process would. WaitFor is the one
// polling helper of the module's tests.
//
// It is test support: only _test.go files import it (scripts/depscheck
// enforces that).
package testcluster
