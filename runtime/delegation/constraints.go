package delegation

import (
	"fmt"
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Constraints say what a delegation link lets its audience invoke. There is
// no "unset" field: "any" is spelled with wildcards (["**"] for Allow, ["*"]
// for Nouns and Verbs) and an empty list allows nothing.
//
// A capability path is allowed when no Forbid pattern matches it, some Allow
// pattern matches it, some Nouns pattern matches its noun (everything before
// the last dot, with the same wildcard grammar), Verbs holds its verb or
// "*", and its effect level is at most MaxLevel. Forbid always wins over
// Allow.
type Constraints struct {
	Allow    []capability.Pattern `json:"allow"`            // capability patterns; ["**"] = any; empty = nothing
	Forbid   []capability.Pattern `json:"forbid,omitempty"` // always wins over Allow
	Nouns    []string             `json:"nouns"`            // noun patterns ("*" = any)
	Verbs    []string             `json:"verbs"`            // verb names ("*" = any)
	MaxLevel capability.Level     `json:"max_effect"`
}

// Unrestricted allows every capability at every level.
func Unrestricted() Constraints {
	return Constraints{
		Allow:    []capability.Pattern{"**"},
		Forbid:   nil,
		Nouns:    []string{"*"},
		Verbs:    []string{"*"},
		MaxLevel: capability.LevelPrivileged,
	}
}

// NewConstraints validates and normalises constraints from strings (the
// CLI's comma lists, a JSON document's arrays).
func NewConstraints(allow, forbid, nouns, verbs []string, maxLevel capability.Level) (Constraints, error) {
	c := Constraints{
		Allow:    toPatterns(trimAll(allow)),
		Forbid:   toPatterns(trimAll(forbid)),
		Nouns:    trimAll(nouns),
		Verbs:    trimAll(verbs),
		MaxLevel: maxLevel,
	}
	if err := c.Validate(); err != nil {
		return Constraints{}, err
	}
	return c.Normalize()
}

// clone returns a deep copy of c (nil lists stay nil).
func (c Constraints) clone() Constraints {
	c.Allow = cloneSlice(c.Allow)
	c.Forbid = cloneSlice(c.Forbid)
	c.Nouns = cloneSlice(c.Nouns)
	c.Verbs = cloneSlice(c.Verbs)
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func toPatterns(ss []string) []capability.Pattern {
	out := make([]capability.Pattern, len(ss))
	for i, s := range ss {
		out[i] = capability.Pattern(s)
	}
	return out
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

func fromPatterns(ps []capability.Pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// Validate checks the syntax of every pattern, noun and verb, the list sizes
// and the level.
func (c Constraints) Validate() error {
	for _, l := range []struct {
		name string
		n    int
	}{{"allow", len(c.Allow)}, {"forbid", len(c.Forbid)}, {"nouns", len(c.Nouns)}, {"verbs", len(c.Verbs)}} {
		if l.n > limits.MaxPatternsPerConstraint {
			return fmt.Errorf("%w: %s has %d entries, limit %d", ErrMalformed, l.name, l.n, limits.MaxPatternsPerConstraint)
		}
	}
	for _, p := range append(c.Allow[:len(c.Allow):len(c.Allow)], c.Forbid...) {
		if _, err := capability.ParsePattern(string(p)); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	for _, n := range c.Nouns {
		if err := checkNoun(n); err != nil {
			return err
		}
	}
	for _, v := range c.Verbs {
		if err := checkVerb(v); err != nil {
			return err
		}
	}
	if c.MaxLevel > capability.LevelPrivileged {
		return fmt.Errorf("%w: max_effect %d is not a level", ErrMalformed, uint8(c.MaxLevel))
	}
	return nil
}

// checkNoun validates a noun pattern: dotted segments, "*" for one segment,
// "**" last for one or more. It reuses the capability pattern grammar by
// appending a verb segment (or, for a trailing "**", as is).
func checkNoun(n string) error {
	p := n + ".v"
	if n == "**" || strings.HasSuffix(n, ".**") {
		p = n
	}
	if n == "" || strings.Contains(n, "@") {
		return fmt.Errorf("%w: noun pattern %q", ErrMalformed, n)
	}
	if _, err := capability.ParsePattern(p); err != nil {
		return fmt.Errorf("%w: noun pattern %q: %v", ErrMalformed, n, err)
	}
	return nil
}

// checkVerb validates a verb: one path segment, or "*".
func checkVerb(v string) error {
	if v == "*" {
		return nil
	}
	if strings.Contains(v, ".") {
		return fmt.Errorf("%w: verb %q must be one segment", ErrMalformed, v)
	}
	if _, err := capability.ParsePath("n." + v); err != nil {
		return fmt.Errorf("%w: verb %q: %v", ErrMalformed, v, err)
	}
	return nil
}

// Normalize returns c with each list deduplicated, stripped of entries
// covered by another entry, and sorted; "any" is spelled "**" in Allow and
// "*" in Nouns and Verbs. It allows exactly what c allows.
func (c Constraints) Normalize() (Constraints, error) {
	return Intersect(c, Unrestricted())
}

// Allows checks path and its effect level against c: forbid, then allow,
// nouns, verbs and max_effect. The error is a *FieldError naming the field
// that refused, wrapping ErrNotAllowed or ErrEffectTooHigh. It does not
// allocate when the path is allowed.
func (c Constraints) Allows(path capability.Path, level capability.Level) error {
	s := string(path)
	for _, f := range c.Forbid {
		if f.Match(s) {
			return &FieldError{Field: "forbid", Detail: fmt.Sprintf("%s is forbidden by %q", s, f), Err: ErrNotAllowed}
		}
	}
	if !matchAnyPattern(c.Allow, s) {
		return &FieldError{Field: "allow", Detail: fmt.Sprintf("%s matches none of %v", s, c.Allow), Err: ErrNotAllowed}
	}
	if noun := path.Noun(); !matchAnyNoun(c.Nouns, noun) {
		return &FieldError{Field: "nouns", Detail: fmt.Sprintf("noun %q matches none of %v", noun, c.Nouns), Err: ErrNotAllowed}
	}
	if verb := path.Verb(); !hasVerb(c.Verbs, verb) {
		return &FieldError{Field: "verbs", Detail: fmt.Sprintf("verb %q is not in %v", verb, c.Verbs), Err: ErrNotAllowed}
	}
	if level > c.MaxLevel {
		return &FieldError{Field: "max_effect", Detail: fmt.Sprintf("%s needs %s, max is %s", s, level, c.MaxLevel), Err: ErrEffectTooHigh}
	}
	return nil
}

func matchAnyPattern(ps []capability.Pattern, s string) bool {
	for _, p := range ps {
		if p.Match(s) {
			return true
		}
	}
	return false
}

func matchAnyNoun(ns []string, noun string) bool {
	for _, n := range ns {
		if capability.Pattern(n).Match(noun) {
			return true
		}
	}
	return false
}

func hasVerb(vs []string, verb string) bool {
	for _, v := range vs {
		if v == "*" || v == verb {
			return true
		}
	}
	return false
}

// Intersect returns constraints that allow exactly what both a and b allow:
// allow and nouns are the exact pattern-set intersections, verbs the set
// intersection, forbid the union, max_effect the minimum. The result is
// normalised and sorted, so Intersect(a, b) and Intersect(b, a) are equal.
// It fails with ErrTooComplex when a list would exceed
// limits.MaxEffectivePatterns.
func Intersect(a, b Constraints) (Constraints, error) {
	allow, err := intersectPatterns(fromPatterns(a.Allow), fromPatterns(b.Allow), "**")
	if err != nil {
		return Constraints{}, fmt.Errorf("allow: %w", err)
	}
	forbid, err := unionPatterns("**", fromPatterns(a.Forbid), fromPatterns(b.Forbid))
	if err != nil {
		return Constraints{}, fmt.Errorf("forbid: %w", err)
	}
	nouns, err := intersectPatterns(a.Nouns, b.Nouns, "*")
	if err != nil {
		return Constraints{}, fmt.Errorf("nouns: %w", err)
	}
	out := Constraints{
		Allow:    toPatterns(allow),
		Nouns:    nouns,
		Verbs:    intersectVerbs(a.Verbs, b.Verbs),
		MaxLevel: min(a.MaxLevel, b.MaxLevel),
	}
	if len(forbid) > 0 {
		out.Forbid = toPatterns(forbid)
	}
	return out, nil
}

// Narrows checks that c grants nothing its parent does not: every allow and
// noun pattern of c is covered by one pattern of the parent's list, every
// verb of c is in the parent's verbs (or the parent has "*"), wherever an
// allow pattern of c overlaps a forbid pattern of the parent the overlap is
// covered by one of c's forbid patterns, and c's max_effect is at most the
// parent's. Covering is checked pattern by pattern, so a pattern
// covered only by the union of several parent patterns counts as widening.
// The error is a *FieldError naming the first widened field, wrapping
// ErrWidened.
func (c Constraints) Narrows(parent Constraints) error {
	if p, ok := uncovered(fromPatterns(c.Allow), fromPatterns(parent.Allow)); !ok {
		return &FieldError{Field: "allow", Detail: fmt.Sprintf("%q is not within %v", p, parent.Allow), Err: ErrWidened}
	}
	if err := c.keepsForbids(parent); err != nil {
		return err
	}
	if p, ok := uncovered(c.Nouns, parent.Nouns); !ok {
		return &FieldError{Field: "nouns", Detail: fmt.Sprintf("%q is not within %v", p, parent.Nouns), Err: ErrWidened}
	}
	for _, v := range c.Verbs {
		if !hasVerb(parent.Verbs, v) {
			return &FieldError{Field: "verbs", Detail: fmt.Sprintf("%q is not within %v", v, parent.Verbs), Err: ErrWidened}
		}
	}
	if c.MaxLevel > parent.MaxLevel {
		return &FieldError{Field: "max_effect", Detail: fmt.Sprintf("%s is above %s", c.MaxLevel, parent.MaxLevel), Err: ErrWidened}
	}
	return nil
}

// keepsForbids: every part of c's allow list that the parent forbids is
// forbidden by c too (c need not repeat parent forbids it does not reach).
func (c Constraints) keepsForbids(parent Constraints) error {
	cf := make([]string, len(c.Forbid))
	for i, f := range c.Forbid {
		cf[i] = string(f)
	}
	for _, a := range c.Allow {
		as := splitPattern(string(a))
		for _, f := range parent.Forbid {
			m, overlap := meetSegs(as, splitPattern(string(f)))
			if !overlap {
				continue
			}
			if _, ok := uncovered([]string{strings.Join(m, ".")}, cf); !ok {
				return &FieldError{Field: "forbid", Err: ErrWidened,
					Detail: fmt.Sprintf("parent forbids %q; %q reaches it without forbidding it", f, a)}
			}
		}
	}
	return nil
}

// uncovered returns the first pattern of child that no pattern of parent
// covers.
func uncovered(child, parent []string) (string, bool) {
	ps := make([][]string, len(parent))
	for i, p := range parent {
		ps[i] = splitPattern(p)
	}
	for _, c := range child {
		cs, ok := splitPattern(c), false
		for _, p := range ps {
			if coversSegs(p, cs) {
				ok = true
				break
			}
		}
		if !ok {
			return c, false
		}
	}
	return "", true
}
