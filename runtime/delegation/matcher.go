package delegation

import (
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
)

// compiled is a prepared chain's effective constraints in a form that
// answers "allowed?" with string comparisons: "any" lists become a flag,
// literal patterns are compared whole, and only wildcard patterns are
// walked segment by segment. It answers exactly as Constraints.Allows does
// (a property test holds them together); Check asks Constraints.Allows
// only to explain a refusal.
type compiled struct {
	forbid, allow, nouns patternMatcher
	verbsAny             bool
	verbs                []string
	maxLevel             capability.Level
}

type patternMatcher struct {
	any      bool
	literals []string
	wild     [][]string // pre-split patterns with "*" or "**" segments
}

func compile(c Constraints) compiled {
	out := compiled{
		forbid:   newPatternMatcher(fromPatterns(c.Forbid)),
		allow:    newPatternMatcher(fromPatterns(c.Allow)),
		nouns:    newPatternMatcher(c.Nouns),
		verbsAny: hasAny(c.Verbs),
		maxLevel: c.MaxLevel,
	}
	if !out.verbsAny {
		out.verbs = cloneSlice(c.Verbs)
	}
	return out
}

func newPatternMatcher(ps []string) patternMatcher {
	var m patternMatcher
	for _, p := range ps {
		switch segs := splitPattern(p); {
		case len(segs) == 1 && segs[0] == "**":
			m.any = true
		case capability.Pattern(p).IsLiteral():
			m.literals = append(m.literals, p)
		default:
			m.wild = append(m.wild, segs)
		}
	}
	return m
}

func (m *patternMatcher) match(s string) bool {
	if m.any {
		return true
	}
	for _, l := range m.literals {
		if l == s {
			return true
		}
	}
	for _, w := range m.wild {
		if matchSegs(w, s) {
			return true
		}
	}
	return false
}

// matchSegs is capability.Pattern.Match over pre-split segments.
func matchSegs(p []string, s string) bool {
	for i, seg := range p {
		if seg == "**" {
			return s != ""
		}
		head, rest, more := strings.Cut(s, ".")
		if head == "" || (seg != "*" && seg != head) {
			return false
		}
		if last := i == len(p)-1; last || !more {
			return last && !more
		}
		s = rest
	}
	return false
}

// allows reports whether Constraints.Allows would return nil.
func (c *compiled) allows(path capability.Path, level capability.Level) bool {
	s := string(path)
	if level > c.maxLevel || c.forbid.match(s) || !c.allow.match(s) || !c.nouns.match(path.Noun()) {
		return false
	}
	if c.verbsAny {
		return true
	}
	verb := path.Verb()
	for _, v := range c.verbs {
		if v == verb {
			return true
		}
	}
	return false
}
