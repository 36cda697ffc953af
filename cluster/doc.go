// Package cluster runs a cnv server node: a hashicorp/raft instance (log and
// stable store in raft-boltdb, file snapshots) driving the fsm over the
// node's ledger file, the leader's invocation pipeline (authenticate, verify
// delegation links, group-commit commands into Raft entries, certify the
// committed results with the node key), linearizable and stale reads, and
// membership (bootstrap, join, leave, remove, node records).
//
// cluster speaks to other nodes only through the Peers interface, which the
// transport layer implements over HTTP; it imports fsm, ledger and runtime,
// never transport or cmd.
package cluster
