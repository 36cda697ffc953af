// Package ledger is cnv's governance ledger as a Merkle log: an
// append-only, RFC 6962 Merkle-verified record of governance events
// (ledger/event), stored in a bbolt file with its tree tiles, secondary
// equality indexes and signed checkpoints, queryable, provable
// (inclusion and consistency proofs), exportable and importable as JSON
// lines, verifiable byte for byte, and copied whole as a snapshot.
//
// The ledger is a pure, deterministic core over its file: it never reads the
// wall clock or randomness. Every timestamp comes from the caller (in the
// cluster, the leader's stamp on each Raft batch), so every replica that
// applies the same batches holds the same bytes and the same Merkle root.
//
// Events are stored and hashed in their canonical msgpack form
// (event.Event.MarshalCanonical); JSON is the API and export form. The
// Merkle tree is RFC 6962 (github.com/transparency-dev/merkle): leaf i is
// the RFC 6962 leaf hash of event i's canonical bytes. Signed checkpoints
// are C2SP notes (package ledger/checkpoint).
//
// The file is shared with the ledger's callers. The ledger owns every
// top-level bucket whose name starts with "ledger." (see buckets.go) and
// hands a caller its own buckets only as a namespace ("fsm.", ...) behind
// a kv.Tx: Tx.KV inside a ledger transaction, so that the caller's writes
// (the FSM's replicated state) commit with the events and the applied
// Raft index of the same Tx, atomically and with one fsync; Store.KV on
// its own. No caller sees bbolt.
//
// Store.Update and Store.AppendBatch write; Query, Count, Event, Read,
// InclusionProof, ConsistencyProof, Checkpoints, Export and Verify read a
// consistent snapshot and run concurrently with the writer. WriteTo and
// Restore copy and replace the whole file, every namespace included (the
// FSM's snapshots). Replay of recorded decisions under another policy is
// package ledger/replay, over Store.Read. See DESIGN.md for the layout
// and its trade-offs.
//
// It imports kv, ledger/event, ledger/checkpoint and runtime packages;
// nothing from ledger/replay, fsm, cluster or anything above it.
package ledger
