package policy

import (
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Set is a compiled, immutable policy set; safe for concurrent use.
type Set struct {
	doc   Document
	hash  string
	rules []compiledRule // enabled rules, highest priority first
	// byNoun maps a capability path's first segment to the indexes (into
	// rules, ascending, i.e. priority order) of every rule that could match
	// a path starting with it; generic lists the rules that could match any
	// path. Evaluation visits only one of these lists.
	byNoun  map[string][]int
	generic []int
}

type compiledRule struct {
	name       string
	priority   int
	order      int
	conds      []compiledCond
	action     Decision
	reason     string
	suggestion string
	approver   string
}

type condKind uint8

const (
	kCapability condKind = iota
	kEffectType
	kMinLevel
	kSensitivity
	kSensitiveData
	kAgentType
	kTenant
	kAdmin
	kOriginHuman
	kDelegated
	kChainDepth
)

type compiledCond struct {
	kind     condKind
	not      bool
	patterns []capability.Pattern
	// suffixes[i] is "." + the literal last segment of patterns[i], or ""
	// when that segment is a wildcard: a cheap rejection before Match.
	suffixes    []string
	effectBit   uint16
	level       capability.Level
	sensitivity capability.Sensitivity
	agentType   principal.AgentType
	tenant      string
	minDepth    int
	maxDepth    int
}

// DefaultDenyReason is the reason given when no rule allowed an invocation
// and the set's default is deny.
const DefaultDenyReason = "no policy rule allows this invocation (default deny)"

// Evaluate decides a request. Semantics, in the manner of Cedar (deny
// overrides):
//
//   - enabled rules are visited by priority, highest first (ties in
//     document order); a rule matches when all its conditions hold;
//   - every matching rule is appended to EvaluatedRules;
//   - a matching deny decides at once (MatchedRule is that rule);
//   - otherwise the first matching require_approval decides, even if allow
//     rules also matched: approval is never silently turned into an allow;
//   - otherwise the first matching allow decides;
//   - otherwise the set's default decides (MatchedRule is empty).
func (s *Set) Evaluate(req *Request) Result {
	var effSet uint16 = req.Effects.Set()
	level := req.Effects.Level()
	res := Result{PolicyHash: s.hash}
	var allow, approval *compiledRule
	candidates, ok := s.byNoun[firstSegment(string(req.Capability))]
	if !ok {
		candidates = s.generic
	}
	for _, i := range candidates {
		r := &s.rules[i]
		if !r.matches(req, effSet, level) {
			continue
		}
		res.EvaluatedRules = append(res.EvaluatedRules, r.name)
		switch r.action {
		case Deny:
			res.Decision, res.MatchedRule = Deny, r.name
			res.Reason, res.Suggestion = r.reason, r.suggestion
			return res
		case RequireApproval:
			if approval == nil {
				approval = r
			}
		case Allow:
			if allow == nil {
				allow = r
			}
		}
	}
	switch {
	case approval != nil:
		res.Decision, res.MatchedRule = RequireApproval, approval.name
		res.Approver = approval.approver
		res.Reason = "approval required from " + approval.approver
	case allow != nil:
		res.Decision, res.MatchedRule = Allow, allow.name
	case s.doc.Default == Allow:
		res.Decision = Allow
	default:
		res.Decision, res.Reason = Deny, DefaultDenyReason
	}
	if res.EvaluatedRules == nil {
		res.EvaluatedRules = []string{}
	}
	return res
}

func (r *compiledRule) matches(req *Request, effSet uint16, level capability.Level) bool {
	for i := range r.conds {
		if !r.conds[i].holds(req, effSet, level) {
			return false
		}
	}
	return true
}

func (c *compiledCond) holds(req *Request, effSet uint16, level capability.Level) bool {
	return c.test(req, effSet, level) != c.not
}

func (c *compiledCond) test(req *Request, effSet uint16, level capability.Level) bool {
	switch c.kind {
	case kCapability:
		path := string(req.Capability)
		for i, p := range c.patterns {
			if sfx := c.suffixes[i]; sfx != "" && !strings.HasSuffix(path, sfx) {
				continue
			}
			if p.Match(path) {
				return true
			}
		}
		return false
	case kEffectType:
		return effSet&c.effectBit != 0
	case kMinLevel:
		return level >= c.level
	case kSensitivity:
		return req.Sensitivity >= c.sensitivity
	case kSensitiveData:
		return len(req.DataTags) > 0
	case kAgentType:
		return req.AgentType == c.agentType
	case kTenant:
		return req.Tenant == c.tenant
	case kAdmin:
		return req.Admin
	case kOriginHuman:
		return req.AgentType == principal.Human
	case kDelegated:
		return req.ChainDepth > 0
	case kChainDepth:
		return req.ChainDepth >= c.minDepth && (c.maxDepth == 0 || req.ChainDepth <= c.maxDepth)
	}
	return false
}

func firstSegment(path string) string {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			return path[:i]
		}
	}
	return path
}

// literalNouns returns the first segments a rule is confined to: the rule
// has a (non-negated) capability condition whose every pattern starts with a
// literal segment. ok is false when the rule could match any path.
func (r *compiledRule) literalNouns() (nouns []string, ok bool) {
	for _, c := range r.conds {
		if c.kind != kCapability || c.not {
			continue
		}
		var segs []string
		for _, p := range c.patterns {
			seg := firstSegment(string(p))
			if seg == "*" || seg == "**" {
				segs = nil
				break
			}
			segs = append(segs, seg)
		}
		if segs != nil {
			return segs, true
		}
	}
	return nil, false
}

// index builds byNoun and generic from rules.
func (s *Set) index() {
	s.byNoun = map[string][]int{}
	confined := make([][]string, len(s.rules))
	for i := range s.rules {
		if nouns, ok := s.rules[i].literalNouns(); ok {
			confined[i] = nouns
			for _, n := range nouns {
				s.byNoun[n] = nil
			}
		} else {
			s.generic = append(s.generic, i)
		}
	}
	for i, nouns := range confined {
		for _, n := range nouns {
			if l := s.byNoun[n]; len(l) == 0 || l[len(l)-1] != i {
				s.byNoun[n] = append(l, i)
			}
		}
	}
	for n, own := range s.byNoun {
		s.byNoun[n] = mergeSorted(own, s.generic)
	}
}

func mergeSorted(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
