package capability

import "strings"

// Pattern matches capability paths segment by segment. "*" matches exactly
// one segment and "**" (last segment only) matches one or more remaining
// segments: "user.*" matches "user.create" but not "superuser.create" nor
// "user.admin.create"; "user.**" matches both "user.create" and
// "user.admin.create"; "*.read" matches "user.read". A pattern without
// wildcards matches only itself: matching is by segment, never by
// substring ("user" does not match "superuser.list").
type Pattern string

// ParsePattern validates a pattern. "*" and "**" alone are accepted and
// both match every path.
func ParsePattern(s string) (Pattern, error) {
	if err := checkDotted(s, true); err != nil {
		return "", err
	}
	return Pattern(s), nil
}

// Match reports whether path matches the pattern. It does not allocate.
func (pt Pattern) Match(path string) bool {
	p, s := string(pt.norm()), path
	for {
		pseg, prest, pmore := strings.Cut(p, ".")
		if pseg == "**" {
			return s != ""
		}
		sseg, srest, smore := strings.Cut(s, ".")
		if pseg != "*" && pseg != sseg {
			return false
		}
		if sseg == "" {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		p, s = prest, srest
	}
}

// Covers reports whether every path matched by q is also matched by pt
// (pattern containment). It is exact for the grammar above and is what
// delegation uses to prove that a child link does not widen its parent.
func (pt Pattern) Covers(q Pattern) bool {
	return covers(strings.Split(string(pt.norm()), "."), strings.Split(string(q.norm()), "."))
}

// norm treats a lone "*" as "**": a path always has at least two segments,
// so a one-segment wildcard on its own would match nothing.
func (pt Pattern) norm() Pattern {
	if pt == "*" {
		return "**"
	}
	return pt
}

func covers(p, q []string) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			return len(q) > 0
		}
		if len(q) == 0 {
			return false
		}
		switch {
		case q[0] == "**":
			return false // p has no "**" here, so q matches longer paths than p
		case p[0] == "*":
		case p[0] != q[0]:
			return false
		}
		p, q = p[1:], q[1:]
	}
	return len(q) == 0
}

// IsLiteral reports whether the pattern has no wildcard segment.
func (pt Pattern) IsLiteral() bool {
	for _, seg := range strings.Split(string(pt), ".") {
		if seg == "*" || seg == "**" {
			return false
		}
	}
	return true
}
