package delegation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cnv-project/cnv/runtime/limits"
)

// Pattern-set algebra over the capability.Pattern grammar, shared by the
// allow, forbid and noun lists. A pattern is handled as its segments, with a
// lone "*" read as "**" (capability.Pattern does the same: a lone "*" would
// otherwise match nothing).
//
// The intersection of two pattern sets is exact: the meet of two patterns
// matches exactly the paths both match, and the result is the set of all
// pairwise meets with every pattern covered by another one dropped. The
// result is sorted, so intersection is commutative to the byte.

// splitPattern returns the segments of p, reading a lone "*" as "**".
func splitPattern(p string) []string {
	if p == "*" {
		p = "**"
	}
	return strings.Split(p, ".")
}

// meetSegs returns the pattern matching exactly the paths both p and q
// match, or false when no path matches both. "**" is only ever last.
func meetSegs(p, q []string) ([]string, bool) {
	out := make([]string, 0, max(len(p), len(q)))
	for {
		switch {
		case len(p) > 0 && p[0] == "**":
			return append(out, q...), len(q) > 0
		case len(q) > 0 && q[0] == "**":
			return append(out, p...), len(p) > 0
		case len(p) == 0 || len(q) == 0:
			return out, len(p) == len(q)
		case p[0] == "*":
			out = append(out, q[0])
		case q[0] == "*" || p[0] == q[0]:
			out = append(out, p[0])
		default:
			return nil, false
		}
		p, q = p[1:], q[1:]
	}
}

// coversSegs reports whether every path q matches is matched by p. It is
// capability.Pattern.Covers on pre-split segments, so that simplifying a
// large set does not allocate per comparison.
func coversSegs(p, q []string) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			return len(q) > 0
		}
		if len(q) == 0 || q[0] == "**" || (p[0] != "*" && p[0] != q[0]) {
			return false
		}
		p, q = p[1:], q[1:]
	}
	return len(q) == 0
}

// candidates collects distinct segment lists, refusing more than the work
// bound 2×MaxEffectivePatterns before simplification.
type candidates struct {
	seen map[string]struct{}
	list [][]string
	keys []string
}

func (c *candidates) add(s []string) error {
	k := strings.Join(s, ".")
	if _, dup := c.seen[k]; dup {
		return nil
	}
	if len(c.list) >= 2*limits.MaxEffectivePatterns {
		return fmt.Errorf("%w: more than %d distinct patterns", ErrTooComplex, 2*limits.MaxEffectivePatterns)
	}
	if c.seen == nil {
		c.seen = make(map[string]struct{})
	}
	c.seen[k] = struct{}{}
	c.list, c.keys = append(c.list, s), append(c.keys, k)
	return nil
}

// simplify drops every candidate covered by another one and renders the rest
// sorted; a lone "**" is rendered as anyForm ("**" for capabilities, "*" for
// nouns).
func (c *candidates) simplify(anyForm string) ([]string, error) {
	out := make([]string, 0, len(c.list))
	for i, p := range c.list {
		if !c.coveredByOther(i, p) {
			out = append(out, c.keys[i])
		}
	}
	if len(out) > limits.MaxEffectivePatterns {
		return nil, fmt.Errorf("%w: %d patterns, limit %d", ErrTooComplex, len(out), limits.MaxEffectivePatterns)
	}
	for i := range out {
		if out[i] == "**" {
			out[i] = anyForm
		}
	}
	sort.Strings(out)
	return out, nil
}

// coveredByOther: some other candidate covers p (for two that cover each
// other, the smaller key is kept).
func (c *candidates) coveredByOther(i int, p []string) bool {
	for j, q := range c.list {
		if j != i && coversSegs(q, p) && (!coversSegs(p, q) || c.keys[j] < c.keys[i]) {
			return true
		}
	}
	return false
}

// intersectPatterns is the exact intersection of two pattern sets.
func intersectPatterns(a, b []string, anyForm string) ([]string, error) {
	var c candidates
	bs := make([][]string, len(b))
	for i, q := range b {
		bs[i] = splitPattern(q)
	}
	for _, p := range a {
		ps := splitPattern(p)
		for _, qs := range bs {
			if m, ok := meetSegs(ps, qs); ok {
				if err := c.add(m); err != nil {
					return nil, err
				}
			}
		}
	}
	return c.simplify(anyForm)
}

// unionPatterns is the union of pattern sets, without redundant members.
func unionPatterns(anyForm string, sets ...[]string) ([]string, error) {
	var c candidates
	for _, set := range sets {
		for _, p := range set {
			if err := c.add(splitPattern(p)); err != nil {
				return nil, err
			}
		}
	}
	return c.simplify(anyForm)
}

// intersectVerbs intersects verb sets where "*" is any verb.
func intersectVerbs(a, b []string) []string {
	switch {
	case hasAny(a):
		return normVerbs(b)
	case hasAny(b):
		return normVerbs(a)
	}
	in := make(map[string]bool, len(b))
	for _, v := range b {
		in[v] = true
	}
	out := make([]string, 0, min(len(a), len(b)))
	for _, v := range a {
		if in[v] {
			out = append(out, v)
			in[v] = false
		}
	}
	sort.Strings(out)
	return out
}

// normVerbs dedupes and sorts a verb set; a set holding "*" is just ["*"].
func normVerbs(vs []string) []string {
	if hasAny(vs) {
		return []string{"*"}
	}
	out := make([]string, 0, len(vs))
	seen := make(map[string]bool, len(vs))
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func hasAny(vs []string) bool {
	for _, v := range vs {
		if v == "*" {
			return true
		}
	}
	return false
}
