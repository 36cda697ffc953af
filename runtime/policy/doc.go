// Package policy is cnv's policy engine: a versioned, hashed set of
// prioritised rules whose conditions match on the capability (path patterns
// with whole-segment wildcards, effect types, sensitivity) and on who is
// acting (agent type, tenant, admin, whether the delegation chain's origin is
// a human, chain depth), with actions allow, deny (reason, suggestion) and
// require_approval.
//
// Evaluation is a pure function of the Set and the Request: no clock, no
// randomness, no map iteration, so the FSM and ledger replay get the same
// answer on every node.
//
// It imports only runtime/capability, runtime/principal, runtime/codec,
// runtime/cnverr and runtime/limits.
package policy
