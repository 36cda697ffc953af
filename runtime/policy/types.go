package policy

import (
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Request is everything a policy decision may depend on. It is recorded in
// full in the ledger's PolicyDecision events, so a replay under another
// policy set sees exactly what the recorded evaluation saw.
//
// The principal fields describe who the policy judges: the invoker for a
// direct invocation, and the chain's origin for a delegated one (the chain's
// own constraints then narrow what the origin's policy allows).
type Request struct {
	Capability  capability.Path        `json:"capability"`
	Effects     capability.Effects     `json:"effects,omitempty"`
	Sensitivity capability.Sensitivity `json:"sensitivity"`
	DataTags    []capability.DataTag   `json:"data_tags,omitempty"`

	AgentID   string              `json:"agent_id"`
	AgentType principal.AgentType `json:"agent_type"`
	Tenant    string              `json:"tenant"`
	KeyID     principal.KeyID     `json:"key_id"`
	Admin     bool                `json:"admin,omitempty"`

	// Invoker is the key that signed the invocation; equal to KeyID when
	// ChainDepth is 0.
	Invoker principal.KeyID `json:"invoker"`
	// ChainDepth is the number of delegation links (0 for direct).
	ChainDepth int  `json:"chain_depth"`
	DryRun     bool `json:"dry_run,omitempty"`
}

// Decision is the outcome of an evaluation.
type Decision string

const (
	Allow           Decision = "allow"
	Deny            Decision = "deny"
	RequireApproval Decision = "require_approval"
)

// Result is an evaluation's outcome and its trace.
type Result struct {
	Decision   Decision `json:"decision"`
	Reason     string   `json:"reason,omitempty"`
	Suggestion string   `json:"suggestion,omitempty"`
	// Approver names who must approve when Decision is RequireApproval.
	Approver string `json:"approver,omitempty"`
	// EvaluatedRules lists, in evaluation order, every rule whose
	// conditions matched, up to and including the deciding one.
	EvaluatedRules []string `json:"evaluated_rules"`
	// MatchedRule is the rule that decided, or "" when the set's default
	// decided.
	MatchedRule string `json:"matched_rule,omitempty"`
	// PolicyHash is the Hash of the Set that produced the result.
	PolicyHash string `json:"policy_hash"`
}

// Allowed reports whether the decision lets the invocation run. Only Allow
// does: RequireApproval is not an allow until an approval exists.
func (r Result) Allowed() bool { return r.Decision == Allow }
