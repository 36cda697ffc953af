package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// snapshotFormat is the version of the encoded snapshot layout.
const snapshotFormat = 1

// envelope is the encoded snapshot: the canonical body and its hash.
type envelope struct {
	Format int    `json:"format"`
	Hash   string `json:"hash"`
	Body   []byte `json:"body"`
}

// body is what a snapshot hashes: everything a registry holds, in ID order,
// and the Raft index. Indexes, adjacency and closure are derived from it.
type body struct {
	RaftIndex uint64       `json:"raft_index"`
	Nodes     []Node       `json:"nodes"`
	Edges     []Edge       `json:"edges"`
	Policies  []PathPolicy `json:"policies"`
}

func (s *Snapshot) encodeBody(nodes []Node) error {
	b, err := codec.Marshal(&body{RaftIndex: s.raftIndex, Nodes: nodes, Edges: s.edges, Policies: s.policies})
	if err != nil {
		return fmt.Errorf("graph snapshot: %w", err)
	}
	sum := sha256.Sum256(b)
	s.body, s.hash = b, hex.EncodeToString(sum[:])
	return nil
}

// Encode returns the snapshot's canonical encoding: the msgpack envelope
// {format, hash, body}, where body holds the Raft index, the nodes in
// NodeID order, the edges in EdgeID order and the path policies, and hash
// is the hex SHA-256 of body. Equal registries at equal indexes encode to
// equal bytes. The result is shared; do not modify it.
func (s *Snapshot) Encode() []byte {
	s.encOnce.Do(func() {
		s.enc = codec.MustMarshal(&envelope{Format: snapshotFormat, Hash: s.hash, Body: s.body})
	})
	return s.enc
}

// Decode parses an encoded snapshot from outside bytes. It refuses input
// over limits.MaxGraphSnapshotBytes, checks the format and the hash,
// rebuilds the graph through the same validation as a Registry (so IDs must
// be dense and in order, edges must join existing nodes, nothing may be
// duplicated, schemas and contracts must validate), and requires the body
// to be exactly the canonical encoding of what it describes. Every failure
// wraps ErrInvalidSnapshot.
func Decode(data []byte) (*Snapshot, error) {
	var env envelope
	if err := codec.UnmarshalLimit(data, limits.MaxGraphSnapshotBytes, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSnapshot, err)
	}
	if env.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrInvalidSnapshot, env.Format, snapshotFormat)
	}
	sum := sha256.Sum256(env.Body)
	if got := hex.EncodeToString(sum[:]); got != env.Hash {
		return nil, fmt.Errorf("%w: body hashes to %s, envelope says %q", ErrInvalidSnapshot, got, env.Hash)
	}
	var b body
	if err := codec.Unmarshal(env.Body, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSnapshot, err)
	}
	r, err := registryFrom(b.Nodes, b.Edges, b.Policies)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	s, err := r.Snapshot(b.RaftIndex)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	if !bytes.Equal(s.body, env.Body) {
		return nil, fmt.Errorf("%w: body is not in canonical form", ErrInvalidSnapshot)
	}
	return s, nil
}

// Registry returns a new registry holding the snapshot's capabilities,
// edges and policies with the same IDs, to register more into.
func (s *Snapshot) Registry() *Registry {
	nodes := make([]Node, len(s.nodes))
	for _, n := range s.nodes {
		nodes[n.ID] = n
	}
	r, err := registryFrom(nodes, s.edges, s.policies)
	if err != nil {
		panic(fmt.Sprintf("graph: snapshot does not rebuild: %v", err)) // built from a valid registry
	}
	return r
}

// registryFrom adds nodes, edges and policies in order and checks that each
// receives the ID it claims.
func registryFrom(nodes []Node, edges []Edge, policies []PathPolicy) (*Registry, error) {
	r := NewRegistry()
	for _, n := range nodes {
		id, err := r.AddCapability(n)
		if err != nil {
			return nil, err
		}
		if id != n.ID {
			return nil, fmt.Errorf("%w: node %s has id %d at position %d", ErrInvalidNode, n.Ref(), n.ID, id)
		}
	}
	for _, e := range edges {
		id, err := r.AddEdgeWith(e)
		if err != nil {
			return nil, err
		}
		if id != e.ID {
			return nil, fmt.Errorf("%w: edge has id %d at position %d", ErrInvalidEdge, e.ID, id)
		}
	}
	for _, p := range policies {
		if err := r.AddPolicy(p); err != nil {
			return nil, err
		}
	}
	return r, nil
}
