package cluster

import (
	"crypto/ed25519"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/principal"
)

// ReceiptDomain separates receipt signatures from every other signature a
// node key makes.
const ReceiptDomain = "cnv-receipt-v1"

// Receipt is a node's signed statement of a ledgered decision that was not
// an allow (deny, require_approval): what was asked, the decision, and
// where the ledger records it.
type Receipt struct {
	Domain        string          `json:"domain"`
	Decision      string          `json:"decision"`
	Reason        string          `json:"reason,omitempty"`
	Capability    string          `json:"capability"`
	Invoker       principal.KeyID `json:"invoker"`
	AgentID       string          `json:"agent_id"`
	Tenant        string          `json:"tenant"`
	RequestID     string          `json:"request_id"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Chain         []string        `json:"chain,omitempty"`
	MatchedRule   string          `json:"matched_rule,omitempty"`
	Time          int64           `json:"time"`
	LedgerIndex   uint64          `json:"ledger_index"`
	LeafHash      string          `json:"leaf_hash"`
	Signer        principal.KeyID `json:"signer"`
}

// SignedReceipt carries the exact signed bytes (the canonical encoding of
// the Receipt), the Ed25519 signature and the signer's key ID.
type SignedReceipt struct {
	Receipt     Receipt         `json:"receipt"`
	SignedBytes []byte          `json:"signed_bytes"`
	Signature   []byte          `json:"signature"`
	Signer      principal.KeyID `json:"signer"`
}

func (n *Node) receipt(requestID string, res fsm.Result) (SignedReceipt, error) {
	r := Receipt{
		Domain: ReceiptDomain, Decision: string(res.Decision), Reason: res.Reason,
		Capability: res.Capability.String(), Invoker: res.Invoker, AgentID: res.Judged.AgentID,
		Tenant: res.Tenant, RequestID: requestID, CorrelationID: res.CorrelationID, Chain: res.Chain,
		MatchedRule: res.Policy.MatchedRule, Time: res.Time, LedgerIndex: res.LedgerIndex,
		LeafHash: res.LeafHash.String(), Signer: n.keyID,
	}
	b, err := codec.Marshal(&r)
	if err != nil {
		return SignedReceipt{}, err
	}
	return SignedReceipt{Receipt: r, SignedBytes: b, Signature: ed25519.Sign(n.key, b), Signer: n.keyID}, nil
}
