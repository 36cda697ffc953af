package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// ErrInvalidPolicy is returned for a policy document that cannot be used.
var ErrInvalidPolicy = cnverr.New(cnverr.InvalidInput, "invalid policy")

// Document is the JSON form of a policy set:
//
//	{
//	  "version": "2026-11-25",
//	  "default": "deny",
//	  "rules": [
//	    {"name": "admins", "priority": 100,
//	     "when": [{"type": "admin"}],
//	     "action": {"type": "allow"}},
//	    {"name": "no-privileged-agents", "priority": 50,
//	     "when": [{"type": "agent_type", "agent_type": "agent"},
//	              {"type": "effect_type", "effect": "privileged"}],
//	     "action": {"type": "deny", "reason": "agents may not run privileged capabilities",
//	                "suggestion": "ask a human operator"}}
//	  ]
//	}
//
// "default" is "allow" or "deny"; when omitted it is "deny".
type Document struct {
	Version string   `json:"version,omitempty"`
	Default Decision `json:"default,omitempty"`
	Rules   []Rule   `json:"rules"`
}

// Rule is one prioritised rule. Every condition in When must match (an empty
// list matches everything); a disabled rule never matches.
type Rule struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Priority    int         `json:"priority,omitempty"`
	Disabled    bool        `json:"disabled,omitempty"`
	When        []Condition `json:"when,omitempty"`
	Action      Action      `json:"action"`
}

// Condition kinds. Each is {"type": kind, ...fields}; "not": true inverts
// any condition.
const (
	// CondCapability: the capability path matches Pattern (or any of
	// Patterns). Whole-segment wildcards, never substrings.
	CondCapability = "capability"
	// CondEffectType: the capability declares Effect.
	CondEffectType = "effect_type"
	// CondMinEffectLevel: the capability's effect level is at least Level.
	CondMinEffectLevel = "min_effect_level"
	// CondSensitivity: the capability's sensitivity is at least MinLevel.
	CondSensitivity = "sensitivity"
	// CondHandlesSensitiveData: the capability carries a data tag.
	CondHandlesSensitiveData = "handles_sensitive_data"
	// CondAgentType: the judged principal has AgentType.
	CondAgentType = "agent_type"
	// CondTenant: the judged principal's tenant is TenantID.
	CondTenant = "tenant"
	// CondAdmin: the judged principal is an admin key.
	CondAdmin = "admin"
	// CondOriginHuman: the judged principal (the chain's origin, or the
	// direct invoker) is a human.
	CondOriginHuman = "origin_human"
	// CondDelegated: the invocation came through a delegation chain.
	CondDelegated = "delegated"
	// CondChainDepth: MinDepth <= chain depth <= MaxDepth (MaxDepth 0 means
	// no upper bound).
	CondChainDepth = "chain_depth"
)

// Condition is one test on a Request.
type Condition struct {
	Type      string   `json:"type"`
	Not       bool     `json:"not,omitempty"`
	Pattern   string   `json:"pattern,omitempty"`
	Patterns  []string `json:"patterns,omitempty"`
	Effect    string   `json:"effect,omitempty"`
	Level     string   `json:"level,omitempty"`
	MinLevel  string   `json:"min_level,omitempty"`
	AgentType string   `json:"agent_type,omitempty"`
	TenantID  string   `json:"tenant_id,omitempty"`
	MinDepth  int      `json:"min_depth,omitempty"`
	MaxDepth  int      `json:"max_depth,omitempty"`
}

// Action kinds.
const (
	ActAllow           = "allow"
	ActDeny            = "deny"
	ActRequireApproval = "require_approval"
)

// Action is what a matching rule does.
type Action struct {
	Type       string `json:"type"`
	Reason     string `json:"reason,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
	Approver   string `json:"approver,omitempty"`
}

// Parse decodes and compiles a JSON policy document. Unknown fields, bad
// patterns, unknown names, duplicate rule names and oversize documents are
// errors naming the rule and field.
func Parse(data []byte) (*Set, error) {
	if len(data) > limits.MaxPolicyBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPolicy, len(data), limits.MaxPolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrInvalidPolicy)
	}
	return Compile(doc)
}

// Compile validates a document and prepares it for evaluation.
func Compile(doc Document) (*Set, error) {
	if doc.Default == "" {
		doc.Default = Deny
	}
	if doc.Default != Allow && doc.Default != Deny {
		return nil, fmt.Errorf("%w: default must be allow or deny, got %q", ErrInvalidPolicy, doc.Default)
	}
	if len(doc.Rules) > limits.MaxPolicyRules {
		return nil, fmt.Errorf("%w: %d rules, limit %d", ErrInvalidPolicy, len(doc.Rules), limits.MaxPolicyRules)
	}
	s := &Set{doc: doc, rules: make([]compiledRule, 0, len(doc.Rules))}
	seen := make(map[string]bool, len(doc.Rules))
	for i, r := range doc.Rules {
		if r.Name == "" {
			return nil, fmt.Errorf("%w: rule %d has no name", ErrInvalidPolicy, i)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("%w: duplicate rule name %q", ErrInvalidPolicy, r.Name)
		}
		seen[r.Name] = true
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("%w: rule %q: %v", ErrInvalidPolicy, r.Name, err)
		}
		cr.order = i
		if !r.Disabled {
			s.rules = append(s.rules, cr)
		}
	}
	// Higher priority first; equal priorities keep document order.
	sort.SliceStable(s.rules, func(i, j int) bool { return s.rules[i].priority > s.rules[j].priority })
	s.hash = hashDocument(doc)
	s.index()
	return s, nil
}

func hashDocument(doc Document) string {
	sum := sha256.Sum256(codec.MustMarshal(doc))
	return hex.EncodeToString(sum[:])
}

func compileRule(r Rule) (compiledRule, error) {
	cr := compiledRule{name: r.Name, priority: r.Priority}
	switch r.Action.Type {
	case ActAllow:
		cr.action = Allow
	case ActDeny:
		cr.action = Deny
		if r.Action.Reason == "" {
			return cr, fmt.Errorf("deny needs a reason")
		}
	case ActRequireApproval:
		cr.action = RequireApproval
		if r.Action.Approver == "" {
			return cr, fmt.Errorf("require_approval needs an approver")
		}
	default:
		return cr, fmt.Errorf("unknown action %q (want allow, deny or require_approval)", r.Action.Type)
	}
	cr.reason, cr.suggestion, cr.approver = r.Action.Reason, r.Action.Suggestion, r.Action.Approver
	for i, c := range r.When {
		cc, err := compileCondition(c)
		if err != nil {
			return cr, fmt.Errorf("condition %d (%s): %v", i, c.Type, err)
		}
		cr.conds = append(cr.conds, cc)
	}
	return cr, nil
}

func compileCondition(c Condition) (compiledCond, error) {
	cc := compiledCond{not: c.Not}
	var err error
	switch c.Type {
	case CondCapability:
		cc.kind = kCapability
		pats := c.Patterns
		if c.Pattern != "" {
			pats = append([]string{c.Pattern}, pats...)
		}
		if len(pats) == 0 {
			return cc, fmt.Errorf("needs pattern or patterns")
		}
		for _, p := range pats {
			pt, err := capability.ParsePattern(p)
			if err != nil {
				return cc, err
			}
			cc.patterns = append(cc.patterns, pt)
			sfx := ""
			if i := strings.LastIndexByte(p, '.'); i >= 0 && p[i+1:] != "*" && p[i+1:] != "**" {
				sfx = p[i:]
			}
			cc.suffixes = append(cc.suffixes, sfx)
		}
	case CondEffectType:
		cc.kind = kEffectType
		var e capability.EffectType
		e, err = capability.ParseEffectType(c.Effect)
		cc.effectBit = 1 << e
	case CondMinEffectLevel:
		cc.kind = kMinLevel
		cc.level, err = capability.ParseLevel(c.Level)
	case CondSensitivity:
		cc.kind = kSensitivity
		cc.sensitivity, err = capability.ParseSensitivity(c.MinLevel)
	case CondHandlesSensitiveData:
		cc.kind = kSensitiveData
	case CondAgentType:
		cc.kind = kAgentType
		cc.agentType, err = principal.ParseAgentType(c.AgentType)
	case CondTenant:
		cc.kind = kTenant
		if c.TenantID == "" {
			return cc, fmt.Errorf("needs tenant_id")
		}
		cc.tenant = c.TenantID
	case CondAdmin:
		cc.kind = kAdmin
	case CondOriginHuman:
		cc.kind = kOriginHuman
	case CondDelegated:
		cc.kind = kDelegated
	case CondChainDepth:
		cc.kind = kChainDepth
		if c.MinDepth < 0 || c.MaxDepth < 0 || (c.MaxDepth > 0 && c.MaxDepth < c.MinDepth) {
			return cc, fmt.Errorf("bad depth range [%d, %d]", c.MinDepth, c.MaxDepth)
		}
		cc.minDepth, cc.maxDepth = c.MinDepth, c.MaxDepth
	default:
		return cc, fmt.Errorf("unknown condition type %q", c.Type)
	}
	return cc, err
}

// Document returns the document the set was compiled from (with its
// default filled in).
func (s *Set) Document() Document { return s.doc }

// Hash is the hex SHA-256 of the document's canonical encoding: stable
// across JSON formatting and key order, different for any semantic change.
func (s *Set) Hash() string { return s.hash }

// Version is the document's version label.
func (s *Set) Version() string { return s.doc.Version }

// JSON renders the document as indented JSON.
func (s *Set) JSON() []byte {
	b, _ := json.MarshalIndent(s.doc, "", "  ")
	return b
}

// AdminOnly is the policy a new cluster starts with: admin keys may invoke
// everything, every other key is denied until a policy says otherwise.
func AdminOnly() *Set {
	s, err := Compile(Document{
		Version: "bootstrap",
		Default: Deny,
		Rules: []Rule{{
			Name:        "admins-may-invoke-everything",
			Description: "bootstrap policy: only admin keys may act until a policy is set",
			Priority:    1000,
			When:        []Condition{{Type: CondAdmin}},
			Action:      Action{Type: ActAllow},
		}},
	})
	if err != nil {
		panic(err) // a constant document
	}
	return s
}
