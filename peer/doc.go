// Package peer is the node-to-node client: the calls one cnv server makes
// to another (join, remove, node records, read index, node proposals,
// relayed invocations, graph snapshots) over the other node's API, with
// the cluster token. It knows addresses, not leadership: finding the
// leader is the forward package's job.
//
// It imports cluster (for the request types it carries), client, wire and
// runtime, never httpapi or cmd.
package peer
