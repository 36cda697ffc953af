// Package invocation is the signed request an invoker sends to a node: one
// or more invocations of capabilities ({capability path, args, tenant,
// correlation id, request id, delegation chain, payload, dry_run}), signed
// once per batch with the invoker's Ed25519 key over canonical bytes. It
// parses the command-line forms (`user create --name alice` and
// `user.create --name alice`), checks every limit of runtime/limits, and
// verifies batch signatures through a bounded cache keyed by the hash of
// the signed bytes, so a retried or forwarded batch is verified once.
//
// It imports only runtime/capability, runtime/principal, runtime/codec,
// runtime/cnverr and runtime/limits.
package invocation
