// Package delegation owns signed delegation links and the verification of
// delegation chains.
//
// A link is a body signed by its issuer with Ed25519: version, a random
// nonce, the issuer's and the audience's public keys and key IDs, the
// Constraints granted, a validity window [not_before, not_after] in Unix
// nanoseconds (inclusive at both ends), max_uses (0 = unlimited), the hash
// of the parent link (zero for a root link) and the depth (0 for a root).
// The signed message is the context string "cnv/delegation/link/v1\n"
// followed by the canonical runtime/codec encoding of the body; the link's
// Hash is SHA-256 over the body encoding alone. A body has exactly one
// encoding: decoding re-encodes and refuses anything that differs, so a
// link has exactly one hash.
//
// A sub-delegation may only narrow its parent, in every field (allow,
// forbid, nouns, verbs, max_effect, not_before, not_after, max_uses). Issue
// refuses a widening link, and verification re-checks narrowing for every
// hop, so a hand-made widening link fails too.
//
// Verification of a chain checks every signature (cached by link hash and
// signature), the linkage (each audience is the next issuer, each link
// names its parent's hash, depths count up from 0, the last audience is the
// invoker), the chain depth (limits.MaxChainDepth), the time window,
// revocation, use counts and the effective constraints (the intersection of
// every link's constraints) against the capability path and its effect
// level. Revocation and use counts come through the State interface, which
// the replicated state (fsm) implements. Counts
// live in the state keyed by link hash, never in the token, and Charge
// charges every link of a chain at once or none.
//
// A Verifier keeps two bounded, lock-free caches keyed by link hash:
// verified signatures, and prepared chains (keyed by the last link's hash,
// which commits to every body of the chain through the parent hashes). A
// prepared chain holds everything that does not change with time or state:
// linkage, narrowing and signatures checked, the effective constraints
// compiled for matching, the effective window, the links with use limits.
// Checking a chain seen before is then a cache lookup, a comparison of the
// links' hashes and signatures, and the per-call checks: invoker, window,
// revocation (skipped while an EpochState's revocation epoch is unchanged),
// use counts of limited links, constraints.
//
// Constraint patterns follow capability.Pattern ("*" one segment, "**" the
// rest). Intersections are exact (the meet of two patterns matches exactly
// the paths both match); narrowing is checked pattern by pattern, so a child
// pattern covered only by a union of several parent patterns counts as
// widening.
//
// The token file (.tok) is a PEM block of type "CNV DELEGATION LINK" around
// the canonical encoding of {body, sig}, where body is the exact signed body
// bytes.
//
// The package imports runtime/capability, runtime/principal, runtime/codec,
// runtime/cnverr and runtime/limits, and nothing above runtime/.
package delegation
