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

// Origin says who or what asked for a membership change (By: "token",
// "client:NAME", "node:ID", "autopilot", "member", "unauthenticated") and
// why (Cause, in words); the ledger's MembershipChanged event records
// both. The API that first receives a request fills it in from how the
// caller authenticated; members relay it unchanged.
type Origin struct {
	By    string `json:"by,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// or fills in what o lacks (a request that came without an origin: in
// memory, or from an older member).
func (o Origin) or(by, cause string) Origin {
	if o.By == "" {
		o.By = by
	}
	if o.Cause == "" {
		o.Cause = cause
	}
	return o
}

// JoinRequest asks for a server to be added to the Raft configuration.
// The joining node signs it with its node key (signJoin): the leader
// learns the key it must compare with the members', and a join cannot be
// made up or altered by whoever relays it. Readmit names the removal
// (its Raft index) the join readmits: a join signed before that removal —
// a replayed one — names none and is refused.
type JoinRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	// Nonvoter adds the server without a vote (promotion comes later).
	Nonvoter  bool              `json:"nonvoter,omitempty"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	Readmit   uint64            `json:"readmit,omitempty"`
	Signature []byte            `json:"signature"`
	// Origin is not signed: the API that received the request sets it.
	Origin Origin `json:"origin"`
}

// RemoveRequest asks for a server to be removed.
type RemoveRequest struct {
	NodeID string `json:"node_id"`
	Reason string `json:"reason,omitempty"`
	Origin Origin `json:"origin"`
}

// MoveRequest gives a member a new Raft address (and API address, when
// set): the explicit way to move a server (see Node.MoveServer).
type MoveRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Origin   Origin `json:"origin"`
}

// joinDomain separates join signatures from the node key's other
// signatures.
const joinDomain = "cnv-join-v1\n"

// joinBody is what a join signature covers.
type joinBody struct {
	NodeID    string            `json:"node_id"`
	RaftAddr  string            `json:"raft_addr"`
	APIAddr   string            `json:"api_addr"`
	Nonvoter  bool              `json:"nonvoter,omitempty"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	Readmit   uint64            `json:"readmit,omitempty"`
}

func (r *JoinRequest) signedBytes() ([]byte, error) {
	b, err := codec.Marshal(&joinBody{NodeID: r.NodeID, RaftAddr: r.RaftAddr, APIAddr: r.APIAddr, Nonvoter: r.Nonvoter,
		PublicKey: r.PublicKey, Readmit: r.Readmit})
	if err != nil {
		return nil, err
	}
	return append([]byte(joinDomain), b...), nil
}

// signJoin signs r with key (whose public half r names).
func signJoin(r JoinRequest, key ed25519.PrivateKey) (JoinRequest, error) {
	r.PublicKey = key.Public().(ed25519.PublicKey)
	b, err := r.signedBytes()
	if err != nil {
		return r, err
	}
	r.Signature = ed25519.Sign(key, b)
	return r, nil
}

// verify reports whether r is signed by the key it names.
func (r *JoinRequest) verify() bool {
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return false
	}
	b, err := r.signedBytes()
	return err == nil && ed25519.Verify(r.PublicKey, b, r.Signature)
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
