package cluster

import (
	"context"
	"crypto/ed25519"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/codec"
)

// Remote is how a node reaches other nodes: the members it joins through,
// and the current leader for what only the leader serves. The forward
// package implements it, so that one place finds and reaches the leader.
type Remote interface {
	// Join asks the member at apiAddr to add req's server to its cluster.
	Join(ctx context.Context, apiAddr string, req JoinRequest) error
	// ReadIndex asks the leader for a linearizable read index.
	ReadIndex(ctx context.Context) (uint64, error)
	// RegisterNode sends a signed node record to the leader.
	RegisterNode(ctx context.Context, rec SignedNode) error
	// Remove asks the leader to remove a server.
	Remove(ctx context.Context, req RemoveRequest) error
	// Propose sends node-originated commands to the leader.
	Propose(ctx context.Context, sp SignedProposal) ([]fsm.Result, error)
}

// JoinRequest asks for a server to be added to the Raft configuration.
type JoinRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	// Nonvoter adds the server without a vote (promotion comes later).
	Nonvoter bool `json:"nonvoter,omitempty"`
}

// RemoveRequest asks for a server to be removed.
type RemoveRequest struct {
	NodeID string `json:"node_id"`
	Reason string `json:"reason,omitempty"`
}

// nodeRecordDomain separates node-record signatures from the node key's
// other signatures.
const nodeRecordDomain = "cnv-node-record-v1\n"

// SignedNode is a node's record signed with its own key: it proves the
// node holds the key it asks the cluster to publish.
type SignedNode struct {
	Record    fsm.Node `json:"record"`
	Signature []byte   `json:"signature"`
}

func signNode(rec fsm.Node, key ed25519.PrivateKey) (SignedNode, error) {
	b, err := codec.Marshal(&rec)
	if err != nil {
		return SignedNode{}, err
	}
	return SignedNode{Record: rec, Signature: ed25519.Sign(key, append([]byte(nodeRecordDomain), b...))}, nil
}

func (s *SignedNode) verify() bool {
	if len(s.Record.PublicKey) != ed25519.PublicKeySize {
		return false
	}
	b, err := codec.Marshal(&s.Record)
	if err != nil {
		return false
	}
	return ed25519.Verify(s.Record.PublicKey, append([]byte(nodeRecordDomain), b...), s.Signature)
}
