package event

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
)

// PolicyDecision records one governed invocation's decision with everything
// needed to replay it: the full policy request (capability, effects,
// sensitivity, the judged principal, the invoker key, chain depth) and
// result (decision, reason, evaluated and matched rules, policy hash), the
// command line, a digest of the arguments, the delegation chain's link
// hashes and the use counts this invocation charged to them.
//
// The event's actor, tenant and capability are those of the request; the
// ledger fills them in when they are empty and rejects a mismatch.
type PolicyDecision struct {
	Request policy.Request `json:"request"`
	Result  policy.Result  `json:"result"`
	// Command is the command line as invoked ("user.create --name alice").
	Command string `json:"command,omitempty"`
	// ArgsDigest is the hex SHA-256 of the canonical encoding of the
	// invocation's arguments.
	ArgsDigest string `json:"args_digest,omitempty"`
	// RequestID is the invocation's nonce.
	RequestID string `json:"request_id,omitempty"`
	// ChainLinks are the delegation links' hashes (hex), origin first.
	ChainLinks []string `json:"chain_links,omitempty"`
	// Constraints are the chain's effective constraints (the intersection
	// of every link's), absent for a direct invocation.
	Constraints *delegation.Constraints `json:"constraints,omitempty"`
	// UseCounts are the per-link use counters after this invocation
	// charged them, in ChainLinks order.
	UseCounts []UseCount `json:"use_counts,omitempty"`
}

// UseCount is one delegation link's use counter after a charge.
type UseCount struct {
	// Link is the link's hash (hex).
	Link string `json:"link"`
	Used uint64 `json:"used"`
	// Max is the link's max_uses (0: unlimited).
	Max uint64 `json:"max,omitempty"`
}

// ValidDecision reports whether d is one of the policy decisions.
func ValidDecision(d policy.Decision) bool {
	return d == policy.Allow || d == policy.Deny || d == policy.RequireApproval
}

func (p PolicyDecision) validate() error {
	if err := validRequest(&p.Request); err != nil {
		return err
	}
	if err := validResult(&p.Result); err != nil {
		return err
	}
	if len(p.Command) > limits.MaxCommandLineLen {
		return fmt.Errorf("%w: command is %d bytes, limit %d", ErrInvalidEvent, len(p.Command), limits.MaxCommandLineLen)
	}
	if len(p.ChainLinks) > limits.MaxChainDepth || len(p.UseCounts) > limits.MaxChainDepth {
		return fmt.Errorf("%w: more than %d chain links", ErrInvalidEvent, limits.MaxChainDepth)
	}
	for _, l := range p.ChainLinks {
		if err := checkHexHash("chain link", l, false); err != nil {
			return err
		}
	}
	for _, u := range p.UseCounts {
		if err := checkHexHash("use count link", u.Link, false); err != nil {
			return err
		}
		if u.Max > 0 && u.Used > u.Max {
			return fmt.Errorf("%w: link %s used %d of %d", ErrInvalidEvent, u.Link, u.Used, u.Max)
		}
	}
	if p.Constraints != nil {
		if err := p.Constraints.Validate(); err != nil {
			return fmt.Errorf("%w: constraints: %v", ErrInvalidEvent, err)
		}
	}
	return checkAll(checkHexHash("args_digest", p.ArgsDigest, true), checkOptID("request_id", p.RequestID))
}

func validRequest(r *policy.Request) error {
	if _, err := capability.ParsePath(string(r.Capability)); err != nil {
		return fmt.Errorf("%w: request capability: %v", ErrInvalidEvent, err)
	}
	for _, e := range r.Effects {
		if _, err := capability.ParseEffectType(e.String()); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
	}
	if _, err := capability.ParseSensitivity(r.Sensitivity.String()); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if len(r.DataTags) > limits.MaxArgs || r.ChainDepth < 0 || r.ChainDepth > limits.MaxChainDepth {
		return fmt.Errorf("%w: request data tags or chain depth out of range", ErrInvalidEvent)
	}
	if r.AgentType != "" {
		if err := checkID("agent_type", string(r.AgentType)); err != nil {
			return err
		}
	}
	return checkAll(checkID("request agent_id", r.AgentID), checkOptID("request tenant", r.Tenant),
		checkOptID("request key_id", string(r.KeyID)), checkOptID("request invoker", string(r.Invoker)))
}

func validResult(r *policy.Result) error {
	if !ValidDecision(r.Decision) {
		return fmt.Errorf("%w: decision %q (want allow, deny or require_approval)", ErrInvalidEvent, r.Decision)
	}
	if len(r.EvaluatedRules) > limits.MaxPolicyRules {
		return fmt.Errorf("%w: %d evaluated rules, limit %d", ErrInvalidEvent, len(r.EvaluatedRules), limits.MaxPolicyRules)
	}
	for _, s := range []string{r.Reason, r.Suggestion, r.Approver, r.MatchedRule, r.PolicyHash} {
		if err := checkText("result field", s); err != nil {
			return err
		}
	}
	return nil
}
