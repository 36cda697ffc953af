package node

import (
	"crypto/ed25519"

	"github.com/cnv-project/cnv/cluster/hotlease"
)

// Node is what the hot path needs of a cluster node (*cluster.Node): what
// its leases and batches need (ID, FSM, Propose) and the node's key.
type Node interface {
	hotlease.Node
	// PublicKey is the node's key; it is trusted for certificates even
	// before its record is in the replicated state.
	PublicKey() ed25519.PublicKey
}
