package cluster

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// proposalDomain separates node proposal signatures from the node key's
// other signatures.
const proposalDomain = "cnv-node-proposal-v1\n"

// ErrNotProposable is a command kind nodes may not propose on their own
// (invocations come from clients, membership from the leader).
var ErrNotProposable = cnverr.New(cnverr.PermissionDenied, "command kind may not be proposed by a node")

// SignedProposal is a batch of node-originated commands (hot-path quota
// leases and accounting) signed by the proposing node's key.
type SignedProposal struct {
	NodeID    string `json:"node_id"`
	Commands  []byte `json:"commands"` // canonical msgpack of []fsm.Command
	Signature []byte `json:"signature"`
}

// Propose commits node-originated commands: directly on the leader, else
// through the leader's API, signed with this node's key. Only kinds that
// fsm.NodeProposable allows are accepted.
func (n *Node) Propose(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error) {
	for _, c := range cmds {
		if !fsm.NodeProposable(c.Kind) {
			return nil, fmt.Errorf("%w: kind %d", ErrNotProposable, c.Kind)
		}
	}
	if n.IsLeader() {
		res, _, err := n.props.submit(ctx, cmds)
		if !errors.Is(err, ErrNotLeader) {
			return res, err
		}
	}
	b, err := codec.Marshal(cmds)
	if err != nil {
		return nil, err
	}
	sp := SignedProposal{NodeID: n.cfg.NodeID, Commands: b, Signature: ed25519.Sign(n.key, append([]byte(proposalDomain), b...))}
	return n.cfg.Remote.Propose(ctx, sp)
}

// HandleProposal commits a proposal another node signed; leader only. The
// signer must be a member with a published node record.
func (n *Node) HandleProposal(ctx context.Context, sp SignedProposal) ([]fsm.Result, error) {
	rec, ok := n.fsm.View().Nodes[sp.NodeID]
	if !ok || !ed25519.Verify(rec.PublicKey, append([]byte(proposalDomain), sp.Commands...), sp.Signature) {
		return nil, fmt.Errorf("%w: proposal from %q", ErrBadNodeRecord, sp.NodeID)
	}
	var cmds []fsm.Command
	if err := codec.UnmarshalLimit(sp.Commands, limits.MaxRequestBody, &cmds); err != nil {
		return nil, cnverr.Wrap(cnverr.InvalidInput, err, "proposal commands")
	}
	if len(cmds) == 0 || len(cmds) > limits.MaxBatchInvocations {
		return nil, cnverr.New(cnverr.InvalidInput, "proposal has %d commands (1 to %d)", len(cmds), limits.MaxBatchInvocations)
	}
	for _, c := range cmds {
		if !fsm.NodeProposable(c.Kind) {
			return nil, fmt.Errorf("%w: kind %d", ErrNotProposable, c.Kind)
		}
	}
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	res, _, err := n.props.submit(ctx, cmds)
	return res, err
}
