package hotlease

import (
	"context"

	"github.com/cnv-project/cnv/fsm"
)

// Node is what the lease and batch logic needs of a cluster node
// (*cluster.Node implements it).
type Node interface {
	// ID is the node's ID, recorded in its leases and batches.
	ID() string
	// FSM is the local replicated state.
	FSM() *fsm.FSM
	// Propose commits node-originated commands through the leader.
	Propose(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error)
}
