package graph

import (
	"fmt"
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
)

// PathPolicy constrains the chains path queries may return. Exactly one
// form is set:
//
//	{"deny_through": X}                 no path may traverse X (its ends included)
//	{"require_through": Z, "to": Y}     a path that reaches Y must pass Z first
//
// X, Y and Z are selectors: a capability pattern ("user.delete",
// "admin.**"), which matches every version of the paths it matches, or a
// "path@version" naming one node. Z and Y may match several nodes: a path
// that reaches any Y must first pass any Z. A path reaches every node on it
// but its first, and passes a Z at the same node as a Y.
type PathPolicy struct {
	DenyThrough    string `json:"deny_through,omitempty"`
	RequireThrough string `json:"require_through,omitempty"`
	To             string `json:"to,omitempty"`
}

// IsDeny reports whether p is a deny_through policy.
func (p PathPolicy) IsDeny() bool { return p.DenyThrough != "" }

// String renders the policy as "deny_through X" or "require_through Z to Y".
func (p PathPolicy) String() string {
	if p.IsDeny() {
		return "deny_through " + p.DenyThrough
	}
	return "require_through " + p.RequireThrough + " to " + p.To
}

// validate checks the policy's shape and selectors.
func (p PathPolicy) validate() error {
	deny, req := p.DenyThrough != "", p.RequireThrough != "" || p.To != ""
	if deny == req {
		return fmt.Errorf("%w: want either deny_through, or require_through with to", ErrInvalidPolicy)
	}
	if deny {
		_, err := parseSelector(p.DenyThrough)
		return err
	}
	if p.RequireThrough == "" || p.To == "" {
		return fmt.Errorf("%w: require_through and to go together", ErrInvalidPolicy)
	}
	if _, err := parseSelector(p.RequireThrough); err != nil {
		return err
	}
	_, err := parseSelector(p.To)
	return err
}

// selectors returns the policy's selectors: the denied one, or Z then Y.
func (p PathPolicy) selectors() []selector {
	var out []selector
	for _, s := range []string{p.DenyThrough, p.RequireThrough, p.To} {
		if s != "" {
			sel, _ := parseSelector(s) // validated on entry
			out = append(out, sel)
		}
	}
	return out
}

// selector matches nodes: every version of the paths a pattern matches, or
// the one node a path@version names.
type selector struct {
	pattern capability.Pattern
	ref     capability.Ref
}

func parseSelector(s string) (selector, error) {
	if strings.Contains(s, "@") {
		ref, err := capability.ParseRef(s)
		if err != nil {
			return selector{}, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
		}
		return selector{ref: ref}, nil
	}
	pt, err := capability.ParsePattern(s)
	if err != nil {
		return selector{}, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	return selector{pattern: pt}, nil
}

func (s selector) match(n *Node) bool {
	if s.pattern != "" {
		return s.pattern.Match(string(n.Path))
	}
	return n.Path == s.ref.Path && n.Version == s.ref.Version
}
