// Package httpapi serves a cnv server node's HTTP API. Handlers depend on
// the small interfaces declared in node.go (Node, State, Ledger), never on
// the node's internals. JSON is the default encoding; a request that sends
// or accepts application/msgpack gets the project's canonical msgpack.
//
// Requests only the leader serves (invocations, joins, removals, moves) are tried
// here and, on a follower, handed to the forward package, which relays
// them to the leader's internal listener (internal.go: node-to-node calls
// on the Raft port, authenticated by the mux), where they are served and
// never relayed again. With no leader a write waits up to the
// forwarder's hold time and then answers 503 with Retry-After. With a
// cluster token configured, membership changes and node-to-node calls
// must carry it. A membership change carries its origin (Server.origin:
// how the caller authenticated and from where) to the leader, which
// ledgers it.
//
// httpapi imports cluster, fsm, ledger, forward, peer, metrics, wire and
// runtime; only cmd imports it. The edge node's API is package edge, the
// hot path lives under hot/.
package httpapi
