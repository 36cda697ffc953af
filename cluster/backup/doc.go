// Package backup is the file format of a cnv cluster snapshot (what
// `cnv-node snapshot save` writes and `snapshot inspect` and `snapshot
// restore` read): the replicated state at one applied Raft index, with the
// ledger size and root it holds, a C2SP checkpoint of them signed by the
// node that served it, and a signature by that node over the whole file.
//
// # Layout (format version 1)
//
// All integers are big-endian.
//
//	header   "CNVSNAP\x00" (8 bytes) | version uint16 (1) | flags uint16 (0)
//	section  kind (1 byte) | length uint64 | payload | CRC-32C (Castagnoli) uint32
//	         of kind, length and payload
//
// Four sections follow the header, in this order, and nothing after them:
//
//	'M' metadata    JSON (Meta), at most limits.MaxSnapshotMetaBytes
//	'C' checkpoint  a signed C2SP checkpoint note (ledger/checkpoint) of the
//	                ledger's size and root, signed by the serving node's key
//	'S' state       a consistent copy of the node's state.db (bbolt: the
//	                ledger, its Merkle tiles and the FSM's replicated state),
//	                Meta.StateBytes long
//	'E' end         SHA-256 of every byte before this section (32 bytes) |
//	                Ed25519 signature (64 bytes) by Meta.NodeKey over
//	                SignatureDomain || that digest
//
// The section CRCs locate damage (a flipped byte is reported with the
// section and its byte range); the end section's digest covers the header,
// every section and every CRC; its signature makes the whole file, state
// included, attributable to the node key the metadata names. Decode checks
// all of that while it streams (the state goes to a writer, never into
// memory). Verify then checks the contents: the checkpoint's signature and
// that it signs the metadata's size and root, that the state opens as a
// ledger at the recorded Raft index, that every event hashes to its leaf
// and the recomputed root is the recorded one, and, when the caller names
// trusted keys, that the signer is one of them.
package backup
