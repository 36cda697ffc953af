package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Format constants (see the package doc).
const (
	Magic   = "CNVSNAP\x00"
	Version = 1
	// SignatureDomain prefixes the file digest the end section signs, so
	// the signature cannot be mistaken for one over anything else the node
	// key signs.
	SignatureDomain = "cnv snapshot v1\n"

	headerSize  = len(Magic) + 4
	sectionHead = 1 + 8
	sectionTail = 4
	endSize     = sha256.Size + ed25519.SignatureSize
)

// Kind names a section.
type Kind byte

// The sections, in file order.
const (
	KindMeta       Kind = 'M'
	KindCheckpoint Kind = 'C'
	KindState      Kind = 'S'
	KindEnd        Kind = 'E'
)

func (k Kind) String() string {
	switch k {
	case KindMeta:
		return "metadata"
	case KindCheckpoint:
		return "checkpoint"
	case KindState:
		return "state"
	case KindEnd:
		return "end"
	}
	return fmt.Sprintf("unknown (0x%02x)", byte(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of snapshot files. Each names what is wrong; the wrapping error
// adds where (a byte offset, a section, a size).
var (
	ErrMagic     = cnverr.New(cnverr.InvalidInput, "not a cnv snapshot file (bad magic)")
	ErrVersion   = cnverr.New(cnverr.InvalidInput, "unsupported snapshot format version")
	ErrTruncated = cnverr.New(cnverr.InvalidInput, "snapshot file is truncated")
	ErrChecksum  = cnverr.New(cnverr.InvalidInput, "snapshot checksum mismatch")
	ErrMalformed = cnverr.New(cnverr.InvalidInput, "malformed snapshot file")
	// ErrSignature: the end section's signature does not verify under the
	// key the metadata names.
	ErrSignature = cnverr.New(cnverr.PermissionDenied, "bad snapshot signature")
	// ErrCheckpoint: the checkpoint's signature does not verify under the
	// key the metadata names, or it is not that key's.
	ErrCheckpoint = cnverr.New(cnverr.PermissionDenied, "bad checkpoint signature")
	// ErrMismatch: the metadata, the checkpoint and the state disagree
	// about the index, size or origin.
	ErrMismatch = cnverr.New(cnverr.InvalidInput, "snapshot contents disagree")
	// ErrRootMismatch: the ledger's events do not give the recorded root.
	ErrRootMismatch = cnverr.New(cnverr.InvalidInput, "ledger root mismatch")
	// ErrLedger: the embedded ledger does not verify (an event, the tree or
	// a stored checkpoint).
	ErrLedger = cnverr.New(cnverr.InvalidInput, "embedded ledger does not verify")
	// ErrState: the embedded state does not open.
	ErrState = cnverr.New(cnverr.InvalidInput, "embedded state does not open")
	// ErrUntrusted: the signer is not among the trusted keys.
	ErrUntrusted = cnverr.New(cnverr.PermissionDenied, "snapshot not signed by a trusted key")
)

// Meta is the metadata section.
type Meta struct {
	Format int `json:"format"`
	// Origin is the checkpoint origin line (the log's name).
	Origin string `json:"origin"`
	// Genesis is the leaf hash of ledger event 0 (hex): it names the
	// cluster's history ("" for an empty ledger).
	Genesis string `json:"genesis,omitempty"`
	// RaftIndex is the applied index of the state: every entry up to it
	// and none after it.
	RaftIndex uint64 `json:"raft_index"`
	// ReadIndex is the linearizable read index the snapshot was taken at
	// (RaftIndex >= ReadIndex): it holds every write acknowledged before
	// the request.
	ReadIndex  uint64 `json:"read_index"`
	LedgerSize uint64 `json:"ledger_size"`
	// LedgerRoot is the RFC 6962 root at LedgerSize (hex).
	LedgerRoot string `json:"ledger_root"`
	PolicyHash string `json:"policy_hash,omitempty"`
	// NodeID, NodeKey and NodeKeyID name the node that served the
	// snapshot and whose key signed its checkpoint and the file.
	NodeID    string          `json:"node_id"`
	NodeKey   []byte          `json:"node_key"`
	NodeKeyID principal.KeyID `json:"node_key_id"`
	Created   time.Time       `json:"created"`
	// StateBytes is the length of the state section.
	StateBytes int64 `json:"state_bytes"`
}

// PublicKey is the signer's key.
func (m Meta) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(m.NodeKey) }

// Root is the recorded ledger root.
func (m Meta) Root() []byte {
	b, _ := hex.DecodeString(m.LedgerRoot)
	return b
}

func (m Meta) validate() error {
	switch {
	case m.Format != Version:
		return fmt.Errorf("%w: metadata says format %d, the header %d", ErrMalformed, m.Format, Version)
	case len(m.NodeKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: node key has %d bytes", ErrMalformed, len(m.NodeKey))
	case m.NodeKeyID != principal.IDOf(m.PublicKey()):
		return fmt.Errorf("%w: node key id %s is not the id of the node key (%s)", ErrMalformed, m.NodeKeyID, principal.IDOf(m.PublicKey()))
	case len(m.Root()) != sha256.Size || hex.EncodeToString(m.Root()) != m.LedgerRoot:
		return fmt.Errorf("%w: ledger root %q is not a lowercase hex SHA-256", ErrMalformed, m.LedgerRoot)
	case m.StateBytes < 0 || m.StateBytes > limits.MaxSnapshotStateBytes:
		return fmt.Errorf("%w: state of %d bytes (limit %d)", ErrMalformed, m.StateBytes, int64(limits.MaxSnapshotStateBytes))
	case m.RaftIndex < m.ReadIndex:
		return fmt.Errorf("%w: raft index %d is before the read index %d", ErrMalformed, m.RaftIndex, m.ReadIndex)
	case m.Origin == "":
		return fmt.Errorf("%w: no origin", ErrMalformed)
	}
	return principal.CheckID("node_id", m.NodeID)
}

func encodeMeta(m Meta) ([]byte, error) {
	m.Format = Version
	if err := m.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("%w: metadata: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Meta{}, fmt.Errorf("%w: metadata: data after the JSON object", ErrMalformed)
	}
	return m, m.validate()
}

// signed is what the end section's signature covers.
func signed(digest []byte) []byte { return append([]byte(SignatureDomain), digest...) }
