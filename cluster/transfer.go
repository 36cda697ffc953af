package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// ErrUnknownServer is a server ID that is not in the Raft configuration.
var ErrUnknownServer = cnverr.New(cnverr.NotFound, "no such server in the raft configuration")

// TransferLeadership hands leadership to the voter to (any up-to-date
// voter when to is ""), leader only, and returns the new leader's ID once
// this node knows it. Asking the leader to hand over to itself is a
// no-op that names it.
func (n *Node) TransferLeadership(ctx context.Context, to string) (string, error) {
	if !n.IsLeader() {
		return "", ErrNotLeader
	}
	if to == n.cfg.NodeID {
		return to, nil
	}
	fut, err := n.transferFuture(to)
	if err != nil {
		return "", err
	}
	if err := fut.Error(); err != nil {
		return "", raftErr(err)
	}
	id, err := n.awaitOtherLeader(ctx)
	if err == nil {
		n.log.Info("leadership transferred", "to", id)
	}
	return id, err
}

// transferFuture starts the transfer to to, or to any voter.
func (n *Node) transferFuture(to string) (raft.Future, error) {
	if to == "" {
		return n.raft.LeadershipTransfer(), nil
	}
	s, err := n.server(to)
	if err != nil {
		return nil, err
	}
	if s.Suffrage != raft.Voter {
		return nil, cnverr.New(cnverr.InvalidInput, "server %s is not a voter; it cannot lead", to)
	}
	return n.raft.LeadershipTransferToServer(s.ID, s.Address), nil
}

// server returns the configuration's entry for id (ErrUnknownServer when
// there is none).
func (n *Node) server(id string) (raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Server{}, raftErr(err)
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(id) {
			return s, nil
		}
	}
	return raft.Server{}, fmt.Errorf("%w: %s", ErrUnknownServer, id)
}

// awaitOtherLeader waits until a leader other than this node is known.
func (n *Node) awaitOtherLeader(ctx context.Context) (string, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, id := n.raft.LeaderWithID(); id != "" && string(id) != n.cfg.NodeID {
			return string(id), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w: waiting for the new leader: %v", ErrNoLeader, ctx.Err())
		case <-n.shutdownCh:
			return "", ErrShutdown
		case <-tick.C:
		}
	}
}
