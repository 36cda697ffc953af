package fsm

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// EnvelopeVersion is the command envelope format this code writes and
// reads. A node that reads a newer version refuses the entry loudly rather
// than guessing.
const EnvelopeVersion = 1

// ErrBadEnvelope is returned for an entry that cannot be decoded.
var ErrBadEnvelope = cnverr.New(cnverr.InvalidStructure, "malformed command envelope")

// Envelope is one Raft log entry: a batch of commands stamped by the leader.
type Envelope struct {
	Version  uint8     `json:"v"`
	Time     int64     `json:"t"`
	Commands []Command `json:"c"`
}

// Kind names a command.
type Kind uint8

const (
	// KindBootstrap installs the admin keys of a new cluster (applied only
	// once, by the first leader).
	KindBootstrap Kind = iota + 1
	// KindNode records a node's ID, addresses and public key (NodeJoined).
	KindNode
	// KindNodeLeft records a node leaving the cluster (entries written
	// before KindMembership, which removals now use; still applied).
	KindNodeLeft
	// KindInvoke is an authenticated invocation: decided, charged and
	// ledgered; built-in governance capabilities also change the state.
	KindInvoke
	// KindHotLease leases a block of delegation-link uses to a node's
	// hot-path session (node-proposed).
	KindHotLease
	// KindHotReturn settles a hot-path session's leases: unspent uses are
	// credited back (node-proposed).
	KindHotReturn
	// KindHotBatch ledgers a node's hot-path accounting (node-proposed).
	KindHotBatch
	// KindMembership ledgers a membership change the leader made (or, a
	// removal, is about to make) with its cause; a removal tombstones the
	// node id and key, a join readmits them (membership.go).
	KindMembership
)

// NodeProposable reports whether a node may propose commands of kind k on
// its own behalf (signed with its node key) rather than on a client's.
// The hot path's quota leases, returns and accounting are.
func NodeProposable(k Kind) bool {
	return k == KindHotLease || k == KindHotReturn || k == KindHotBatch
}

// Command is one state change. Exactly one field is set, matching Kind.
type Command struct {
	Kind      Kind       `json:"k"`
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	Node      *Node      `json:"node,omitempty"`
	NodeLeft  *NodeLeft  `json:"node_left,omitempty"`
	Invoke    *Invoke    `json:"invoke,omitempty"`
	HotLease  *HotLease  `json:"hot_lease,omitempty"`
	HotReturn *HotReturn `json:"hot_return,omitempty"`
	HotBatch  *HotBatch  `json:"hot_batch,omitempty"`
	// Membership: see membership.go.
	Membership *Membership `json:"membership,omitempty"`
}

// Bootstrap carries the admin public keys a cluster starts with.
type Bootstrap struct {
	AdminKeys []ed25519.PublicKey `json:"admin_keys"`
}

// NodeLeft records a member leaving.
type NodeLeft struct {
	ID     string `json:"node_id"`
	Reason string `json:"reason,omitempty"`
}

// Invoke is an invocation whose signature (and delegation link signatures)
// the proposing leader verified. Everything the replicated state decides —
// request-id duplicates, the invoker's and origin's principal records, the
// capability's registration, revocations, link windows and use counts, the
// policy decision — is decided here at the committed time.
type Invoke struct {
	Invoker    principal.KeyID       `json:"invoker"`
	Invocation invocation.Invocation `json:"invocation"`
	// Links are the decoded delegation links, root first, verified by the
	// proposer; Invocation.Chain is emptied to avoid carrying them twice.
	Links []Link `json:"links,omitempty"`
}

// ErrCorruptEntry is an entry whose checksum does not match: the local
// log was damaged on disk. Applying it could diverge from the other
// replicas, so the node stops instead.
var ErrCorruptEntry = cnverr.New(cnverr.InvariantBreach, "raft entry checksum mismatch (local log damaged)")

// entryMagic starts every entry: the frame is entryMagic, the CRC-32C
// (Castagnoli) of the body in big-endian, then the body (the canonical
// msgpack envelope). Raft's log store keeps no checksums of its own.
const entryMagic = 0xCE

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the envelope's framed, checksummed canonical bytes.
func (e *Envelope) Encode() ([]byte, error) {
	body, err := codec.Marshal(e)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, 5+len(body))
	out[0] = entryMagic
	binary.BigEndian.PutUint32(out[1:5], crc32.Checksum(body, castagnoli))
	return append(out, body...), nil
}

// CheckEntry checks an entry's frame and checksum without decoding it.
func CheckEntry(b []byte) error {
	if len(b) < 5 || b[0] != entryMagic {
		return fmt.Errorf("%w: not a framed entry", ErrBadEnvelope)
	}
	if crc32.Checksum(b[5:], castagnoli) != binary.BigEndian.Uint32(b[1:5]) {
		return ErrCorruptEntry
	}
	return nil
}

// DecodeEnvelope checks an entry's frame and checksum, then decodes and
// validates it.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if err := CheckEntry(b); err != nil {
		return nil, err
	}
	var e Envelope
	if err := codec.UnmarshalLimit(b[5:], limits.MaxEnvelopeBytes, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if e.Version != EnvelopeVersion {
		return nil, fmt.Errorf("%w: version %d, this node reads %d", ErrBadEnvelope, e.Version, EnvelopeVersion)
	}
	for i := range e.Commands {
		if err := e.Commands[i].check(); err != nil {
			return nil, fmt.Errorf("%w: command %d: %v", ErrBadEnvelope, i, err)
		}
	}
	return &e, nil
}

func (c *Command) check() error {
	set := 0
	for _, p := range []bool{c.Bootstrap != nil, c.Node != nil, c.NodeLeft != nil, c.Invoke != nil,
		c.HotLease != nil, c.HotReturn != nil, c.HotBatch != nil, c.Membership != nil} {
		if p {
			set++
		}
	}
	ok := set == 1 && ((c.Kind == KindBootstrap && c.Bootstrap != nil) ||
		(c.Kind == KindNode && c.Node != nil) ||
		(c.Kind == KindNodeLeft && c.NodeLeft != nil) ||
		(c.Kind == KindInvoke && c.Invoke != nil) ||
		(c.Kind == KindHotLease && c.HotLease != nil) ||
		(c.Kind == KindHotReturn && c.HotReturn != nil) ||
		(c.Kind == KindHotBatch && c.HotBatch != nil) ||
		(c.Kind == KindMembership && c.Membership != nil))
	if !ok {
		return fmt.Errorf("kind %d does not match its body", c.Kind)
	}
	return nil
}
