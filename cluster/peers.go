package cluster

import (
	"context"
	"crypto/ed25519"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/codec"
)

// PeerClient is how a node reaches other nodes' APIs. The transport layer
// implements it over HTTP. apiAddr is the peer's API address.
type PeerClient interface {
	// Join asks the member at apiAddr to add req's server to its cluster.
	Join(ctx context.Context, apiAddr string, req JoinRequest) error
	// RegisterNode sends a signed node record to the leader.
	RegisterNode(ctx context.Context, apiAddr string, rec SignedNode) error
	// ReadIndex asks the leader at apiAddr for a linearizable read index.
	ReadIndex(ctx context.Context, apiAddr string) (uint64, error)
	// Remove asks the member at apiAddr to remove a server.
	Remove(ctx context.Context, apiAddr string, req RemoveRequest) error
	// Propose sends node-originated commands to the leader.
	Propose(ctx context.Context, apiAddr string, sp SignedProposal) ([]fsm.Result, error)
}

// JoinRequest asks for a server to be added to the Raft configuration.
type JoinRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	// Nonvoter adds the server without a vote (promotion comes later).
	Nonvoter bool `json:"nonvoter,omitempty"`
	// Forwarded marks a request a member already forwarded to the leader;
	// it is never forwarded again.
	Forwarded bool `json:"forwarded,omitempty"`
}

// RemoveRequest asks for a server to be removed.
type RemoveRequest struct {
	NodeID    string `json:"node_id"`
	Reason    string `json:"reason,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
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
