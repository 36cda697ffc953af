package hotnode

import (
	"context"
	"crypto/ed25519"

	"github.com/cnv-project/cnv/fsm"
)

// Node is what the hot path needs of a cluster node (*cluster.Node).
type Node interface {
	// ID is the node's ID, recorded in its leases and batches.
	ID() string
	// PublicKey is the node's key; it is trusted for certificates even
	// before its record is in the replicated state.
	PublicKey() ed25519.PublicKey
	// FSM is the local replicated state.
	FSM() *fsm.FSM
	// Propose commits node-originated commands through the leader.
	Propose(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error)
}
