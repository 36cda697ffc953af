package capability

import (
	"fmt"
	"strings"

	"github.com/cnv-project/cnv/runtime/limits"
)

// Path is a validated dotted capability path: one or more noun segments and
// a final verb segment, e.g. "user.create" or "api.v2.resource.action".
//
// A segment starts with an ASCII letter and continues with ASCII letters,
// digits, '_' or '-'. Case is kept (the ID hashes the path as written) but
// paths are otherwise not normalised.
type Path string

// ParsePath validates s as a capability path.
func ParsePath(s string) (Path, error) {
	if err := checkDotted(s, false); err != nil {
		return "", err
	}
	return Path(s), nil
}

// MustPath is ParsePath for constants in code and tests; it panics on error.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// checkDotted validates a dotted path; with wildcards, a segment may also be
// exactly "*" (one segment) or, as the last segment, "**" (any remaining).
func checkDotted(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if len(s) > limits.MaxPathLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPath, len(s), limits.MaxPathLen)
	}
	segs := strings.Split(s, ".")
	if len(segs) < 2 && !(wildcards && (s == "*" || s == "**")) {
		return fmt.Errorf("%w: %q needs a noun and a verb (noun.verb)", ErrInvalidPath, s)
	}
	if len(segs) > limits.MaxPathSegments {
		return fmt.Errorf("%w: %q has %d segments, limit %d", ErrInvalidPath, s, len(segs), limits.MaxPathSegments)
	}
	for i, seg := range segs {
		if wildcards && seg == "*" {
			continue
		}
		if wildcards && seg == "**" && i == len(segs)-1 {
			continue
		}
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("%w: %q segment %d: %s", ErrInvalidPath, s, i+1, err)
		}
	}
	return nil
}

func checkSegment(seg string) error {
	if seg == "" {
		return fmt.Errorf("empty segment")
	}
	c := seg[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return fmt.Errorf("must start with a letter, got %q", c)
	}
	for i := 1; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

// String returns the path.
func (p Path) String() string { return string(p) }

// ID returns the plain capability ID of the path.
func (p Path) ID() ID { return FromPath(string(p)) }

// Noun returns everything before the last dot ("api.v2.resource" for
// "api.v2.resource.action").
func (p Path) Noun() string {
	i := strings.LastIndexByte(string(p), '.')
	if i < 0 {
		return ""
	}
	return string(p[:i])
}

// Verb returns the last segment.
func (p Path) Verb() string {
	i := strings.LastIndexByte(string(p), '.')
	return string(p[i+1:])
}

// Ref is a path with an optional version: "services.restart" or
// "services.restart@2.0.0".
type Ref struct {
	Path    Path
	Version string
}

// ParseRef parses "path" or "path@version".
func ParseRef(s string) (Ref, error) {
	p, v, hasV := strings.Cut(s, "@")
	path, err := ParsePath(p)
	if err != nil {
		return Ref{}, err
	}
	if !hasV {
		return Ref{Path: path}, nil
	}
	if err := ParseVersion(v); err != nil {
		return Ref{}, err
	}
	return Ref{Path: path, Version: v}, nil
}

// ID returns the plain ID for an unversioned ref and the versioned ID
// otherwise.
func (r Ref) ID() ID {
	if r.Version == "" {
		return r.Path.ID()
	}
	return FromPathVersioned(string(r.Path), r.Version)
}

// String renders the ref as it was parsed.
func (r Ref) String() string {
	if r.Version == "" {
		return string(r.Path)
	}
	return string(r.Path) + "@" + r.Version
}

// ParseVersion validates a version: dot-separated, non-empty parts of ASCII
// letters, digits and '-' ("2.0.0", "1.0.0-rc1"). '_' is refused because the
// versioned ID encodes '.' as '_' and could not be decoded again.
func ParseVersion(v string) error {
	if v == "" || len(v) > limits.MaxVersionLen {
		return fmt.Errorf("%w: %q (1 to %d characters)", ErrInvalidVersion, v, limits.MaxVersionLen)
	}
	for _, part := range strings.Split(v, ".") {
		if part == "" {
			return fmt.Errorf("%w: %q has an empty part", ErrInvalidVersion, v)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: %q has invalid character %q", ErrInvalidVersion, v, c)
			}
		}
	}
	return nil
}
