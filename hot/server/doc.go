// Package server serves cnv's hot-path wire protocol (hot/proto): it
// carries certified FastPath invocations from the network to a node's
// hotpath.Dispatcher.
//
// It owns the listener and its connections (Server, Config, Stats), each
// connection's reader, bounded read chunks and batched writer, the
// sessions and their in-flight rings, the Catalog (capability IDs to
// dispatcher handler indexes), the built-in FastPath capabilities
// (RegisterBuiltins: hot.counter and hot.echo) and the session authority
// interface with its certificate-based implementation (Authority, Grant,
// Usage, CertAuthority). DESIGN.md gives the reasons and the benchmark
// figures.
//
// server imports hot/proto, runtime/* and go-hclog only. It must not import
// hot/client or anything of the cluster (cluster/, fsm/, ledger/, client/):
// the cluster implements Authority (hot/node) and the embedder wires the
// server in. Its tests drive it over loopback with hot/client.
package server
