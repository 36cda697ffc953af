// Package cluster runs a cnv server node: a hashicorp/raft instance (log and
// stable store in raft-boltdb, file snapshots, TCP transport; Config may
// pass other stores and a transport instead, which tests use for clusters
// in memory, see internal/testcluster) driving the fsm over the
// node's ledger file, the leader's invocation pipeline (authenticate, verify
// delegation links, group-commit commands into Raft entries, certify the
// committed results with the node key), linearizable and stale reads,
// membership (bootstrap, signed joins, leave, remove and move, each
// ledgered with who asked; tombstones that keep removed servers out until
// they join explicitly; refusal of duplicate ids, addresses and keys; node
// records — changes.go), gossip with
// autopilot on the leader (cluster/gossip), node-signed proposals for the
// hot path, and the checks that keep a damaged data dir from serving
// (bbolt truncation, start-up verify, Raft log scan), snapshots of the
// whole state for backup (backup.go, the file format in cluster/backup) and
// seeding a new cluster from one (restore.go). DESIGN.md explains the
// choices.
//
// cluster speaks to other nodes only through the Remote interface, which
// the forward package implements (peer carries the calls); it imports
// cluster/gossip, fsm, ledger and runtime, never the API, forward or cmd.
package cluster
