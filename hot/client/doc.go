// Package client is the Go client of cnv's hot-path wire protocol
// (hot/proto): Dial connects to a node's hot-path port and exchanges hello
// and welcome, Conn.OpenSession proves possession of the certificate's key
// and opens a session, and a Session pipelines invocations (Submit, Go,
// Invoke) within its window.
//
// Also here: RunLoad, the closed-loop load generator behind
// `cnv-node bench --hot`, and RunLines, behind `cnv-node hot session`.
//
// client imports hot/proto, runtime/* and go-hclog (and may use the
// top-level client and wire packages). It must not import hot/server or
// anything of the cluster (cluster/, fsm/, ledger/).
package client
