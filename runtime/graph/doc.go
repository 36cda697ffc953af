// Package graph owns the capability graph: a mutable Registry of capabilities
// (nodes) and typed edges between them, path policies over chains of
// capabilities, the capability file format that registers both, and the
// immutable Snapshot built from a Registry, which answers every query.
//
// # Edges and what follows them
//
// Edge types are produces (the source's output feeds the target's input),
// requires (the source needs the target), equivalent (either may stand in
// for the other), dominates (the source provides strictly more) and custom
// (named by the user). Reachability, shortest path and all-paths queries
// follow produces and requires edges only: equivalence and dominance are
// relations between capabilities, not steps of a chain, and custom edges
// carry no meaning the graph could rely on. Composition follows only
// produces edges whose target's input schema accepts the source's output
// schema. Edge weights are recorded and exported but queries count hops.
//
// # Snapshots
//
// A Snapshot orders its nodes by (path, version); that dense index order is
// also every tie-break, so among equally short paths the one returned is
// the lexicographically smallest by capability name. It holds CSR adjacency
// and one reachability bitset per strongly connected component, so
// Reachable is a bit test. Its canonical encoding (runtime/codec) carries a
// SHA-256 content hash and the Raft index it reflects; Decode verifies both
// and rebuilds the snapshot through the same checks as a Registry. A
// Snapshot is immutable and safe for any number of concurrent readers.
//
// # Path policies
//
// A policy either denies every path that traverses a capability
// (deny_through; a path traverses every node on it, its two ends included),
// or requires every path that reaches a capability to pass through another
// first (require_through + to; the first node of a path is where it starts,
// not something it reaches). Path, paths and compose queries honour the
// policies and name the policy that excluded a path. Reachable is
// structural: it answers whether any chain exists and ignores policies.
//
// This package imports runtime/capability, runtime/contract, runtime/codec,
// runtime/cnverr and runtime/limits only. It does no I/O and reads no clock.
package graph
