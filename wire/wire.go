// Package wire holds the JSON (and msgpack) shapes of cnv's HTTP API: what
// the server writes and the Go client reads. It has no logic and imports
// only runtime packages, so the client and outside tools (the
// fault-injection suite) can use it without the server.
package wire

import (
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Content types the API speaks.
const (
	ContentJSON    = "application/json"
	ContentMsgpack = "application/msgpack"
)

// Headers the API uses.
const (
	// HeaderIndex carries the applied Raft index a read reflects.
	HeaderIndex = "X-Cnv-Index"
	// HeaderNode names the node that answered.
	HeaderNode = "X-Cnv-Node"
	// HeaderToken carries the cluster token (membership changes and
	// node-to-node calls, when the cluster has one).
	HeaderToken = "X-Cnv-Token"
)

// ErrorResponse is every error's body.
type ErrorResponse struct {
	Error *cnverr.Error `json:"error"`
}

// InvokeResponse answers POST /v1/invoke.
type InvokeResponse struct {
	// Node is the node that committed the batch (the leader).
	Node    string    `json:"node"`
	Results []Outcome `json:"results"`
}

// Outcome is one invocation's answer: for a ledgered decision a ledger
// certificate (allow) or receipt (any other decision) with its proof, or
// Error when nothing was applied. Its fields and how to verify one are in
// docs/CERTIFICATES.md.
type Outcome = certificate.Answer

// PolicyTrace is the policy's verdict in an answer's summary.
type PolicyTrace = certificate.AnswerPolicy

// UseCount is one delegation link's counter after the invocation.
type UseCount = certificate.UseCount

// Status answers GET /v1/cluster/status.
type Status struct {
	NodeID       string `json:"node_id"`
	KeyID        string `json:"key_id"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	LedgerSize   uint64 `json:"ledger_size"`
	LedgerRoot   string `json:"ledger_root"`
	Bootstrapped bool   `json:"bootstrapped"`
	RaftAddr     string `json:"raft_addr"`
	APIAddr      string `json:"api_addr"`
	GossipAddr   string `json:"gossip_addr,omitempty"`
}

// Member is one server of the Raft configuration.
type Member struct {
	NodeID     string `json:"node_id"`
	RaftAddr   string `json:"raft_addr"`
	APIAddr    string `json:"api_addr,omitempty"`
	Raft       string `json:"raft"`
	Leader     bool   `json:"leader"`
	KeyID      string `json:"key_id,omitempty"`
	Gossip     string `json:"gossip,omitempty"`
	Role       string `json:"role,omitempty"`
	GossipAddr string `json:"gossip_addr,omitempty"`
	Applied    uint64 `json:"applied_index,omitempty"`
}

// NodeKey is one node's certificate-signing key (GET /v1/cluster/keys).
type NodeKey struct {
	NodeID       string `json:"node_id"`
	KeyID        string `json:"key_id"`
	PublicKeyPEM string `json:"public_key_pem"`
}

// JoinRequest is the body of POST /v1/cluster/join: either the joining
// server's own request, signed with its node key (node to member), or,
// from the CLI, the members this node should join. Readmit names the
// removal (its Raft index) a join readmits. By and Cause say who asked,
// for the ledger; a node sets them only when it relays a request to the
// leader, and the public API ignores them.
type JoinRequest struct {
	NodeID    string   `json:"node_id,omitempty"`
	RaftAddr  string   `json:"raft_addr,omitempty"`
	APIAddr   string   `json:"api_addr,omitempty"`
	Nonvoter  bool     `json:"nonvoter,omitempty"`
	PublicKey []byte   `json:"public_key,omitempty"`
	Readmit   uint64   `json:"readmit,omitempty"`
	Signature []byte   `json:"signature,omitempty"`
	By        string   `json:"by,omitempty"`
	Cause     string   `json:"cause,omitempty"`
	Forwarded bool     `json:"forwarded,omitempty"`
	Members   []string `json:"members,omitempty"`
}

// RemoveRequest is the body of POST /v1/cluster/remove (By and Cause as
// in JoinRequest).
type RemoveRequest struct {
	NodeID    string `json:"node_id"`
	Reason    string `json:"reason,omitempty"`
	By        string `json:"by,omitempty"`
	Cause     string `json:"cause,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// MoveMemberRequest is the body of POST /v1/cluster/move-member: member
// NodeID now listens at RaftAddr (and APIAddr, when set). By and Cause as
// in JoinRequest.
type MoveMemberRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	By       string `json:"by,omitempty"`
	Cause    string `json:"cause,omitempty"`
}

// TransferLeaderRequest is the body of POST /v1/cluster/transfer-leader:
// the voter to hand leadership to ("" for any up-to-date voter).
type TransferLeaderRequest struct {
	To        string `json:"to,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// TransferLeaderResponse names the leader after the transfer.
type TransferLeaderResponse struct {
	Status   string `json:"status"`
	From     string `json:"from"`
	LeaderID string `json:"leader_id"`
}

// ReadIndexResponse answers the leader's read-index RPC.
type ReadIndexResponse struct {
	Index uint64 `json:"index"`
}

// LedgerStatus answers GET /v1/ledger/status.
type LedgerStatus struct {
	Size       uint64 `json:"size"`
	Root       string `json:"root"`
	Index      uint64 `json:"index"`
	PolicyHash string `json:"policy_hash,omitempty"`
	LastTime   int64  `json:"last_time,omitempty"`
}

// LinkState answers GET /v1/delegations/{hash}.
type LinkState struct {
	Hash      string `json:"hash"`
	Issuer    string `json:"issuer,omitempty"`
	Audience  string `json:"audience,omitempty"`
	MaxUses   uint64 `json:"max_uses,omitempty"`
	NotAfter  int64  `json:"not_after,omitempty"`
	Uses      uint64 `json:"uses"`
	FirstUsed int64  `json:"first_used,omitempty"`
	Revoked   bool   `json:"revoked,omitempty"`
	RevokedAt int64  `json:"revoked_at,omitempty"`
	RevokedBy string `json:"revoked_by,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Index     uint64 `json:"index"`
}

// Event is a ledger event as the API shows it; Data is the typed payload
// (its shape depends on Type).
type Event struct {
	Index       uint64            `json:"index"`
	RaftIndex   uint64            `json:"raft_index"`
	Time        int64             `json:"time"`
	Type        string            `json:"type"`
	Actor       string            `json:"actor"`
	Tenant      string            `json:"tenant,omitempty"`
	Correlation string            `json:"correlation_id,omitempty"`
	Capability  string            `json:"capability,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Data        map[string]any    `json:"data"`
}

// Decision is the event's policy decision, when it records one.
func (e *Event) Decision() string {
	if d, ok := e.Data["decision"].(string); ok {
		return d
	}
	return ""
}

// EventPage answers GET /v1/ledger/events and /v1/ledger/query.
type EventPage struct {
	Events []Event `json:"events"`
	More   bool    `json:"more"`
	Next   uint64  `json:"next,omitempty"`
	// Index is the applied Raft index the page reflects.
	Index uint64 `json:"index"`
}
