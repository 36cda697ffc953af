// Package checkpoint is the signed-checkpoint format of the cnv ledger: C2SP
// tlog-checkpoint bodies (origin, tree size, base64 root hash, extension
// lines) carried in golang.org/x/mod/sumdb/note signed notes.
//
// It owns the body text and its parser, a note.Signer over an Ed25519 node
// key from runtime/principal, the verifier-key strings of those keys, and
// cosigning: several node keys sign the same text and their signatures are
// merged into one note. Everything here is pure: no clock (times are
// extension values chosen by the caller), no randomness (Ed25519 signatures
// are deterministic), no I/O.
//
// It imports only runtime/principal, runtime/cnverr and runtime/limits; it
// must not import the ledger store or anything above it, so that an offline
// verifier can use it alone.
package checkpoint
