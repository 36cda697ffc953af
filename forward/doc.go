// Package forward is the one place that finds and reaches the leader.
// Every request that only the leader can serve — invocations, joins,
// removals, node records, node proposals, read indexes — is tried locally
// first; on "not the leader" it goes once to the current leader, and again
// to the next one while leaders answer "not the leader", within a hold
// time. Handlers never forward by themselves. An edge node uses the same
// relay with alive servers as its targets.
//
// It implements cluster.Remote for the node's own calls to the leader. It
// imports cluster, peer, client, wire and runtime, never httpapi or cmd.
package forward
