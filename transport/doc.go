// Package transport serves cnv's HTTP API over a cluster.Node and
// implements the node-to-node calls the cluster makes (cluster.PeerClient)
// over the same API. JSON is the default encoding; a request that sends or
// accepts application/msgpack gets the project's canonical msgpack.
//
// Writes reaching a follower are forwarded to the leader once (the
// forwarded request carries wire.HeaderForwarded and is never forwarded
// again); with no leader a write waits up to the node's hold time and then
// answers 503 with Retry-After. With a cluster token configured,
// membership changes and node-to-node calls must carry it.
//
// The package also holds the edge node's API (EdgeServer: graph reads from
// the gossiped snapshot, certificate checks with learned node keys, writes
// forwarded to a server), the gossip snapshot fetcher (GraphFetcher) and
// the Prometheus rendering of the process metrics (ProcessMetrics).
//
// transport imports cluster, fsm, ledger and runtime; only cmd imports it.
// The public Go client lives in transport/client, the API shapes in
// transport/wire, the load generator in transport/bench, and the hot path
// in hot/ (proto, server, client, node) and cluster/hotlease.
package transport
