// Package ledger is cnv's governance ledger: an append-only, Merkle-verified
// record of every governance event (policy decisions, grants, delegations,
// registrations, membership, hot-path batch digests, checkpoints), stored in
// a bbolt file, queryable through secondary indexes, exportable as JSON
// lines and replayable under another policy.
//
// The ledger is a pure, deterministic core over its file: it never reads the
// wall clock or randomness. Every timestamp comes from the caller (in the
// cluster, the leader's stamp on each Raft batch), so every replica that
// applies the same batches holds the same bytes and the same Merkle root.
//
// Events are stored and hashed in their canonical msgpack form
// (runtime/codec); JSON is the API and export form. The Merkle tree is
// RFC 6962 (github.com/transparency-dev/merkle): leaf i is the RFC 6962 leaf
// hash of event i's canonical bytes. Signed checkpoints are C2SP notes
// (package ledger/checkpoint).
//
// The bbolt file is shared with the Raft FSM, which keeps its own state in
// the same file and writes it in the same transaction as the events of each
// applied Raft entry (Store.Update, Store.AppendBatch). The ledger owns every
// top-level bucket whose name starts with "ledger." (see buckets.go); the
// FSM must use other names.
//
// Store.Update and Store.AppendBatch write; Query, Count, Event,
// InclusionProof, ConsistencyProof, Checkpoints, Export, Verify and Replay
// read a consistent snapshot and run concurrently with the writer. WriteTo
// and Restore copy and replace the whole file (the FSM's snapshots). See
// DESIGN.md for the layout and its trade-offs.
//
// It imports runtime packages only (codec, capability, principal, policy,
// delegation, cnverr, limits) plus ledger/checkpoint; nothing from fsm,
// cluster or anything above it.
package ledger
