// Package event is the schema of cnv's governance ledger: the Event
// envelope, its closed set of typed payloads (policy decisions, grants,
// delegations, registrations, membership, hot-path accounting,
// checkpoints), their field rules (Validate), their canonical msgpack
// encoding (MarshalCanonical, UnmarshalEvent: the bytes the ledger stores
// and hashes) and their JSON forms (the API and export form).
//
// It knows nothing of storage: no bbolt, no Merkle tree, no indexes. The
// Merkle-log package (ledger) stores and proves events of this package;
// ledger/replay re-evaluates the PolicyDecision events; the FSM builds them.
// Changing an encoding here changes every leaf hash and root, so the bytes
// are pinned by tests here and in ledger.
//
// It imports runtime packages only (codec, capability, principal, policy,
// delegation, cnverr, limits); nothing else of the module.
package event
