package cluster

import (
	"context"

	"github.com/cnv-project/cnv/fsm"
)

// SignJoin signs a join request with a node key as Node.Join does: tests
// make up, alter and replay joins with it.
var SignJoin = signJoin

// LedgerChange commits a membership record without the configuration
// change it describes (a leader that failed in between).
func (n *Node) LedgerChange(ctx context.Context, m fsm.Membership) error {
	return n.ledgerChange(ctx, m)
}
