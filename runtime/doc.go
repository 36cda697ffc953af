// Package runtime is the in-process CNV runtime: capability identities and
// effects, principals and keys, policy, certificates, contracts, delegation,
// the capability graph and the hot-path dispatcher.
//
// Nothing under runtime/ does network or disk I/O (key files excepted), and
// nothing under runtime/ imports ledger/, fsm/, cluster/ or anything above it.
package runtime
