// Package fsm is cnv's Raft state machine. It decodes versioned command
// envelopes and applies them deterministically to one bbolt file shared with
// the governance ledger: every applied Raft entry — or every batch of
// entries raft hands to ApplyBatch — is one ledger write transaction that
// appends the ledger events, updates the replicated state (principals and
// admin keys, the policy set, the capability registry, delegation links with
// their use counters and revocations, node records and the tombstones of
// removed servers, the bounded request-id table, hot-path quota leases) and
// records the last applied Raft index. A
// restart therefore never applies an entry twice (entries at or below the
// recorded index are skipped), and a snapshot is a consistent copy of the
// file.
//
// The replicated state is package fsm/state, a typed store kept in its
// namespace of the ledger's file and written through the batch's ledger
// transaction (ledger.Tx.KV), so the events and the state of a batch
// commit together or not at all: a crash never leaves them at different
// Raft indexes. fsm decides; state stores.
//
// Every entry is framed with a CRC-32C of its body (Envelope.Encode,
// CheckEntry); an entry that fails it stops the node rather than letting
// it apply something the other replicas did not. Nodes may propose only the
// hot-path kinds on their own behalf (NodeProposable); everything else comes
// from clients' signed invocations or from the leader — membership changes
// (KindMembership: joins, promotions, removals with their tombstones, moves,
// each ledgered with who caused it) only from the leader.
//
// Apply never reads the wall clock, randomness or Go map iteration order:
// the leader stamps each envelope with a time, clamped here to never go
// backwards, and every time check uses it. testdata/*.txt replays policy,
// delegation, max_uses and request-id scenarios through Apply and checks
// every printed result (scenario_test.go).
//
// The ledger batch proofs of the latest applied entries are kept in
// memory (BatchProofs): the inclusion proof of each event an entry
// appended into the ledger at the entry's end, for the write path to
// hand out without reading the stored tree.
//
// fsm knows nothing of the network. It imports fsm/state, ledger,
// ledger/event and runtime/ only.
package fsm
