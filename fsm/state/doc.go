// Package state is the FSM's replicated state as a typed store: principals
// (with admin keys), node records, tombstones of removed servers (by node
// id and by key), the capability registrations in the
// order they were applied, delegation link states (use counts,
// revocations), the bounded request-id table with its eviction order,
// open hot-path quota leases, and the meta values (policy document,
// bootstrap flag, sequences, registry index).
//
// It is written against kv only, so it runs over any kv.DB: in a node, the
// namespace Namespace of the ledger's bbolt file, written through the
// ledger transaction of each applied batch (state.NewWriter(tx.KV(...))),
// so the state and the ledger commit together; in tests, memory or a bbolt
// file of its own. Package statetest holds the conformance suite every
// backing passes.
//
// It decides nothing: what to store is the FSM's (package fsm), which
// alone writes it, deterministically, while applying Raft entries. The
// encodings (bucket names, keys, canonical msgpack values) are the ones
// the FSM always used, except the request-id table's: it is a log of
// compact entries in sequence order (requests.go) looked up through an
// index kept in memory, rebuilt when a Store first writes. Entries in the
// earlier layout are still read and forgotten in their turn, so existing
// data directories and snapshots read unchanged.
//
// It imports kv and runtime packages only; nothing of fsm, the ledger or
// anything above them.
package state
