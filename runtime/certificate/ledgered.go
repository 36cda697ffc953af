package certificate

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Ledger certificates.
//
// A cluster answers a ledgered decision with a ledger certificate (an
// allow) or receipt (any other decision): the decision's ledger event, an
// RFC 6962 inclusion proof of it into the ledger at the end of the Raft
// entry that carried it, and that ledger head as a C2SP checkpoint signed
// by the committing node's key. One signature covers every decision of an
// entry. Answer carries those bytes; View is what they state, every field
// decoded from the event or derived from it. Package ledger/cert issues
// and verifies them.

// Answer is a cluster's answer to one invocation (POST /v1/invoke's
// results[], what `cnv-node invoke --json` prints): for a ledgered
// decision, a summary, the readable View (Certificate for an allow, Receipt
// otherwise) and the proof; Error set means nothing was applied.
//
// The proof is Event, LedgerIndex, InclusionProof and the signed head.
// SignedBytes is the checkpoint text ("<origin>\n<size>\n<base64 root>\n"),
// the exact bytes Signature (Ed25519, by the key Signer names) covers, so
// any Ed25519 tool checks it. Event is the leaf: the event's canonical
// encoding, whose RFC 6962 leaf hash InclusionProof proves into that root
// at LedgerIndex. Every other field is decoded from Event; a verifier
// refuses a document whose fields disagree with it. Duplicate (the answer
// is the one recorded for an earlier request with this id) is the only
// field the signature does not cover.
type Answer struct {
	RequestID      string        `json:"request_id"`
	Decision       string        `json:"decision,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	Suggestion     string        `json:"suggestion,omitempty"`
	LedgerIndex    uint64        `json:"ledger_index"`
	LeafHash       string        `json:"leaf_hash,omitempty"`
	Time           int64         `json:"time,omitempty"`
	Duplicate      bool          `json:"duplicate,omitempty"`
	UseCounts      []UseCount    `json:"use_counts,omitempty"`
	Policy         *AnswerPolicy `json:"policy,omitempty"`
	Certificate    *View         `json:"certificate,omitempty"`
	Receipt        *View         `json:"receipt,omitempty"`
	Error          *cnverr.Error `json:"error,omitempty"`
	Event          []byte        `json:"event,omitempty"`
	TreeSize       uint64        `json:"tree_size,omitempty"`
	InclusionProof [][]byte      `json:"inclusion_proof,omitempty"`
	SignedBytes    []byte        `json:"signed_bytes,omitempty"`
	Signature      []byte        `json:"signature,omitempty"`
	Signer         string        `json:"signer,omitempty"`
}

// AnswerPolicy is the policy's verdict in an answer's summary.
type AnswerPolicy struct {
	MatchedRule    string   `json:"matched_rule,omitempty"`
	EvaluatedRules []string `json:"evaluated_rules,omitempty"`
	PolicyHash     string   `json:"policy_hash,omitempty"`
}

// View returns the answer's readable view (nil when it has none).
func (a *Answer) View() *View {
	if a.Certificate != nil {
		return a.Certificate
	}
	return a.Receipt
}

// View is what a ledger certificate or receipt states. Every field is
// decoded from the ledger event it carries or derived from it (ID,
// CapabilityID, ExpiresAt, LeafHash, Root), so a verifier shows only what
// the signature covers.
type View struct {
	// ID is "cert_" and the first 12 bytes of the leaf hash in hex.
	ID           string          `json:"certificate_id"`
	Decision     policy.Decision `json:"decision"`
	Reason       string          `json:"reason,omitempty"`
	Suggestion   string          `json:"suggestion,omitempty"`
	Approver     string          `json:"approver,omitempty"`
	Capability   capability.Path `json:"capability"`
	CapabilityID capability.ID   `json:"capability_id"`
	// Effects and Sensitivity are the capability's, as registered when the
	// decision was made.
	Effects     capability.Effects     `json:"effects,omitempty"`
	Sensitivity capability.Sensitivity `json:"sensitivity"`
	DataTags    []capability.DataTag   `json:"data_tags,omitempty"`
	// AgentID, AgentType, Tenant and Admin are the judged principal's: the
	// invoker's, or the chain origin's for a delegated invocation.
	AgentID   string              `json:"agent_id"`
	AgentType principal.AgentType `json:"agent_type"`
	Tenant    string              `json:"tenant"`
	Admin     bool                `json:"admin,omitempty"`
	// KeyID is the key that signed the invocation: the certificate's
	// holder. Origin is the chain origin's key when it differs.
	KeyID  principal.KeyID `json:"key_id"`
	Origin principal.KeyID `json:"origin,omitempty"`
	// Chain are the delegation links' hashes, origin first; Constraints
	// their intersection; UseCounts the links' counters after this use.
	Chain         []string                `json:"chain,omitempty"`
	Constraints   *delegation.Constraints `json:"constraints,omitempty"`
	UseCounts     []UseCount              `json:"use_counts,omitempty"`
	RequestID     string                  `json:"request_id,omitempty"`
	CorrelationID string                  `json:"correlation_id,omitempty"`
	Command       string                  `json:"command,omitempty"`
	ArgsDigest    string                  `json:"args_digest,omitempty"`
	Trace         Trace                   `json:"policy_trace"`
	// IssuedAt is the committed time; an allow is valid until ExpiresAt,
	// IssuedAt + DefaultTTL.
	IssuedAt  int64 `json:"issued_at"`
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Where the ledger records it, and the signed head proving it.
	LedgerIndex uint64          `json:"ledger_index"`
	RaftIndex   uint64          `json:"raft_index,omitempty"`
	LeafHash    string          `json:"leaf_hash"`
	TreeSize    uint64          `json:"tree_size"`
	Root        string          `json:"root"`
	Signer      principal.KeyID `json:"signer"`
}

// UseCount is one delegation link's counter after the decision charged it.
type UseCount struct {
	Link string `json:"link"`
	Used uint64 `json:"used"`
	Max  uint64 `json:"max,omitempty"`
}

// Allowed reports whether the view is of an allow: a certificate.
func (v *View) Allowed() bool { return v.Decision == policy.Allow }

// LedgerID is the ID of the ledger certificate whose leaf hash is leaf.
func LedgerID(leaf []byte) string {
	if len(leaf) < 12 {
		sum := sha256.Sum256(leaf)
		leaf = sum[:]
	}
	return "cert_" + hex.EncodeToString(leaf[:12])
}
