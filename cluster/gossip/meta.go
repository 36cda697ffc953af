package gossip

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/memberlist"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// metaVersion is the layout version of Meta. A decoder refuses other
// versions rather than guess at fields it does not know.
const metaVersion = 1

// Role is what a node does in the cluster.
type Role string

const (
	// RoleServer nodes run Raft (as voters or non-voters) and publish graph
	// snapshots.
	RoleServer Role = "server"
	// RoleEdge nodes join gossip only: they never enter the Raft
	// configuration and serve reads from gossiped graph snapshots.
	RoleEdge Role = "edge"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleServer || r == RoleEdge }

// Meta is what a member advertises about itself in memberlist's node
// metadata. The wire form uses short field names so the worst case fits
// memberlist.MetaMaxSize (see TestMetaWorstCaseFits).
type Meta struct {
	Version  uint8  `json:"v"`
	NodeID   string `json:"id"`
	Role     Role   `json:"r"`
	RaftAddr string `json:"ra,omitempty"`
	APIAddr  string `json:"aa,omitempty"`
	// Applied is the highest Raft index the member has applied (0 on edges).
	Applied uint64 `json:"ap,omitempty"`
	// GraphIndex and GraphHash identify the graph snapshot the member holds:
	// its Raft index and the raw SHA-256 of its canonical body (the bytes of
	// graph.Snapshot.Hash). Both are zero when it holds none.
	GraphIndex uint64 `json:"gi,omitempty"`
	GraphHash  []byte `json:"gh,omitempty"`
	// Leaving is set just before a graceful leave, so the others record the
	// member as left rather than dead.
	Leaving bool `json:"lv,omitempty"`
	// Proof is the server's proof that it may join (an HMAC under the
	// cluster token of its id and Raft address); the leader's autopilot
	// adds a server heard only through gossip only when it verifies.
	Proof []byte `json:"pf,omitempty"`
	// KeyID is a server's node key id (principal.IDOf). It is what the
	// server claims, checked by nothing here: autopilot refuses a server
	// claiming a removed key or another member's, and the node record the
	// server later publishes must be signed by it.
	KeyID principal.KeyID `json:"k,omitempty"`
}

// EncodeMeta returns the canonical encoding of m.
func EncodeMeta(m *Meta) ([]byte, error) {
	b, err := codec.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, memberlist allows %d", ErrInvalidMeta, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta parses and validates metadata received from a peer.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if err := codec.UnmarshalLimit(b, memberlist.MetaMaxSize, &m); err != nil {
		return Meta{}, fmt.Errorf("%w: %v", ErrInvalidMeta, err)
	}
	if err := m.validate(); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func (m *Meta) validate() error {
	if m.Version != metaVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrInvalidMeta, m.Version, metaVersion)
	}
	if err := principal.CheckID("node id", m.NodeID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMeta, err)
	}
	if !m.Role.Valid() {
		return fmt.Errorf("%w: role %q", ErrInvalidMeta, m.Role)
	}
	if err := checkAddrs(m.RaftAddr, m.APIAddr); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMeta, err)
	}
	if m.Role == RoleServer && m.RaftAddr == "" {
		return fmt.Errorf("%w: server %q advertises no raft address", ErrInvalidMeta, m.NodeID)
	}
	if len(m.Proof) > maxProofLen {
		return fmt.Errorf("%w: proof of %d bytes", ErrInvalidMeta, len(m.Proof))
	}
	if m.KeyID != "" && !isKeyID(m.KeyID) {
		return fmt.Errorf("%w: key id %q", ErrInvalidMeta, m.KeyID)
	}
	return m.validateGraph()
}

// maxProofLen bounds an advertised admission proof (an HMAC-SHA256).
const maxProofLen = sha256.Size

// isKeyID reports whether k has principal.IDOf's form: "k_" and 16
// lowercase hex digits.
func isKeyID(k principal.KeyID) bool {
	s := string(k)
	if len(s) != 18 || s[:2] != "k_" {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (m *Meta) validateGraph() error {
	switch {
	case len(m.GraphHash) != 0 && len(m.GraphHash) != sha256.Size:
		return fmt.Errorf("%w: graph hash of %d bytes", ErrInvalidMeta, len(m.GraphHash))
	case (m.GraphIndex == 0) != (len(m.GraphHash) == 0):
		return fmt.Errorf("%w: graph index %d with %d hash bytes", ErrInvalidMeta, m.GraphIndex, len(m.GraphHash))
	}
	return nil
}

// checkAddrs bounds advertised addresses; it does not resolve them.
func checkAddrs(addrs ...string) error {
	for _, a := range addrs {
		if len(a) > limits.MaxGossipAddrLen {
			return fmt.Errorf("address of %d bytes, limit %d", len(a), limits.MaxGossipAddrLen)
		}
		for i := 0; i < len(a); i++ {
			if a[i] < 0x21 || a[i] > 0x7e {
				return fmt.Errorf("address has a non-printable byte at %d", i)
			}
		}
	}
	return nil
}

// graphVersion is a snapshot's identity: its Raft index and hash.
type graphVersion struct {
	index uint64
	hash  [sha256.Size]byte
}

func (v graphVersion) hex() string {
	if v.index == 0 {
		return ""
	}
	return hex.EncodeToString(v.hash[:])
}

func (v graphVersion) raw() []byte {
	if v.index == 0 {
		return nil
	}
	return append([]byte(nil), v.hash[:]...)
}

// versionOf reads a snapshot's identity from advertised index and hash.
func versionOf(index uint64, hash []byte) graphVersion {
	v := graphVersion{index: index}
	copy(v.hash[:], hash)
	return v
}

// parseHash turns a graph.Snapshot hex hash into raw bytes.
func parseHash(h string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return out, fmt.Errorf("%w: snapshot hash %q", ErrSnapshotMismatch, h)
	}
	copy(out[:], b)
	return out, nil
}
