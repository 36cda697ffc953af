// Package transport serves cnv's HTTP API over a cluster.Node and
// implements the node-to-node calls the cluster makes (cluster.PeerClient)
// over the same API. JSON is the default encoding; a request that sends or
// accepts application/msgpack gets the project's canonical msgpack.
//
// Writes reaching a follower are forwarded to the leader once (the
// forwarded request carries wire.HeaderForwarded and is never forwarded
// again); with no leader a write waits up to the node's hold time and then
// answers 503 with Retry-After.
//
// transport imports cluster, fsm, ledger and runtime; only cmd imports it.
// The public Go client lives in transport/client and the API shapes in
// transport/wire.
package transport
