package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

var (
	// ErrNotLeader is returned by leader-only operations on a follower.
	ErrNotLeader = cnverr.New(cnverr.Unavailable, "this node is not the leader").With("not_leader", true)
	// ErrNoLeader means the cluster has no known leader right now.
	ErrNoLeader = cnverr.New(cnverr.Unavailable, "no leader; retry shortly")
	// ErrUnknownOutcome means a proposal may or may not have committed
	// (leadership was lost after it was sent). Retrying with the same
	// request id is safe: a committed request id answers with its record.
	ErrUnknownOutcome = cnverr.New(cnverr.Unavailable, "leadership lost while committing; outcome unknown, retry with the same request id")
	// ErrShutdown is returned once the node is stopping.
	ErrShutdown = cnverr.New(cnverr.Unavailable, "node is shutting down")
	// ErrBadNodeRecord is a node record that does not verify.
	ErrBadNodeRecord = cnverr.New(cnverr.Unauthenticated, "node record does not verify")
)

// raftErr maps a raft future error to a cluster error.
func raftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	default:
		return cnverr.Wrap(cnverr.InternalError, err, "raft")
	}
}
