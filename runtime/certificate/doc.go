// Package certificate holds two things.
//
// The shapes of a cluster's answers: Answer, one invocation's answer with
// its proof, and View, what a ledger certificate (an allow) or receipt
// states, every field decoded from the ledger event it proves. Package
// ledger/cert issues and verifies them; docs/CERTIFICATES.md has the
// format.
//
// The in-process typed certificate, for code that embeds the runtime: a
// Certificate[S] moves through the states Unchecked → PolicyChecked →
// CapabilityChecked → Verified by functions that each perform one check,
// and only Verify, at the end, produces a Certificate[Verified], signed
// with Ed25519 over canonical bytes (runtime/codec) that include the
// state. The struct's fields are unexported and the transitions are the
// only constructors, so code outside this package cannot hold a verified
// certificate that skipped a check. Import verifies the signature against
// a trust set and the time window again: JSON with a future expiry and no
// valid signature never imports as Verified.
//
// It imports runtime/capability, runtime/delegation, runtime/principal,
// runtime/policy, runtime/codec, runtime/cnverr and runtime/limits only.
package certificate
