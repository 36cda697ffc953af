// Package certificate makes proof-carrying invocations: a Certificate[S]
// moves through the states Unchecked → PolicyChecked → CapabilityChecked →
// Verified by functions that each perform one check, and only Sign, at the
// end, produces a Certificate[Verified]. The struct's fields are unexported
// and the transitions are the only constructors, so code outside this
// package cannot hold a verified certificate that skipped a check (the zero
// value reports Valid() == false and exposes nothing).
//
// A verified certificate is signed with Ed25519 by a node key over
// canonical bytes (runtime/codec) that include the state, the policy trace
// and, once committed, the ledger index and leaf hash. Import verifies the
// signature against a trust set and the time window again: JSON with a
// future expiry and no valid signature never imports as Verified. The JSON form carries the exact signed bytes, so any Ed25519
// tool can check a certificate offline.
//
// It imports runtime/capability, runtime/principal, runtime/policy,
// runtime/codec, runtime/cnverr and runtime/limits only.
package certificate
