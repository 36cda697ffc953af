package graph

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Query operations, the "op" of a Request.
const (
	OpReachable = "reachable"
	OpPath      = "path"
	OpPaths     = "paths"
	OpCompose   = "compose"
	OpDominates = "dominates"
	OpClasses   = "classes"
	OpStats     = "stats"
	OpDot       = "dot"
)

// DefaultMaxDepth is the paths query's depth (in nodes) when none is given.
const DefaultMaxDepth = 10

// Request is one graph query by capability name, the form a client sends
// to a node and the CLI runs offline.
type Request struct {
	Op string `json:"op"`
	// From and To name capabilities (reachable, path, paths, dominates).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// MaxDepth bounds paths, in nodes; 0 means DefaultMaxDepth.
	MaxDepth int `json:"max_depth,omitempty"`
	// FromType and ToType are compose's schemas.
	FromType *capability.Schema `json:"from_type,omitempty"`
	ToType   *capability.Schema `json:"to_type,omitempty"`
	// Nontrivial leaves singleton classes out of classes.
	Nontrivial bool `json:"nontrivial,omitempty"`
}

// ReachableResult answers reachable.
type ReachableResult struct {
	Reachable bool `json:"reachable"`
}

// PathResult answers path and compose. Path is null when there is none.
// ExcludedBy names the policy that rejected the structurally shortest path,
// whether or not a longer allowed path was found.
type PathResult struct {
	Path       []string    `json:"path"`
	ExcludedBy *PathPolicy `json:"excluded_by,omitempty"`
}

// PathsResult answers paths: the allowed paths, the ones a policy excluded,
// and whether limits cut the enumeration short.
type PathsResult struct {
	Paths     [][]string     `json:"paths"`
	Excluded  []ExcludedPath `json:"excluded,omitempty"`
	Truncated bool           `json:"truncated,omitempty"`
}

// ExcludedPath is a path and the first policy it violates.
type ExcludedPath struct {
	Path   []string   `json:"path"`
	Policy PathPolicy `json:"policy"`
}

// DominatesResult answers dominates.
type DominatesResult struct {
	Dominates bool `json:"dominates"`
}

// ClassesResult answers classes.
type ClassesResult struct {
	Classes [][]string `json:"classes"`
}

// DotResult answers dot.
type DotResult struct {
	Dot string `json:"dot"`
}

// Execute runs one request against the snapshot and returns its result
// struct (one of the *Result types above, or Stats).
func Execute(s *Snapshot, r Request) (any, error) {
	switch r.Op {
	case OpReachable, OpPath, OpPaths, OpDominates:
		a, b, err := s.lookupPair(r.From, r.To)
		if err != nil {
			return nil, err
		}
		return s.pairQuery(r, a, b)
	case OpCompose:
		if r.FromType == nil || r.ToType == nil {
			return nil, fmt.Errorf("%w: compose needs from_type and to_type", ErrInvalidQuery)
		}
		return s.composeQuery(r.FromType, r.ToType)
	case OpClasses:
		return s.classesQuery(r.Nontrivial), nil
	case OpStats:
		return s.Stats(), nil
	case OpDot:
		var buf bytes.Buffer
		s.WriteDOT(&buf)
		return DotResult{Dot: buf.String()}, nil
	}
	return nil, fmt.Errorf("%w: unknown op %q", ErrInvalidQuery, r.Op)
}

func (s *Snapshot) lookupPair(from, to string) (Index, Index, error) {
	a, err := s.Lookup(from)
	if err != nil {
		return 0, 0, err
	}
	b, err := s.Lookup(to)
	return a, b, err
}

func (s *Snapshot) pairQuery(r Request, a, b Index) (any, error) {
	switch r.Op {
	case OpReachable:
		return ReachableResult{Reachable: s.Reachable(a, b)}, nil
	case OpDominates:
		return DominatesResult{Dominates: s.Dominates(a, b)}, nil
	case OpPath:
		path, found, excl, err := s.ShortestPath(nil, a, b)
		return s.pathResult(path, found, excl), err
	}
	return s.pathsQuery(a, b, r.MaxDepth)
}

func (s *Snapshot) pathsQuery(a, b Index, maxDepth int) (PathsResult, error) {
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	if maxDepth < 1 || maxDepth > limits.MaxGraphPathNodes {
		return PathsResult{}, fmt.Errorf("%w: max depth %d, want 1 to %d", ErrInvalidQuery, maxDepth, limits.MaxGraphPathNodes)
	}
	res := PathsResult{Paths: [][]string{}}
	res.Truncated = s.AllPaths(a, b, maxDepth, func(p []Index, excl int) bool {
		if excl < 0 {
			res.Paths = append(res.Paths, s.namesOf(p))
		} else {
			res.Excluded = append(res.Excluded, ExcludedPath{Path: s.namesOf(p), Policy: s.policies[excl]})
		}
		return len(res.Paths)+len(res.Excluded) < limits.MaxGraphPaths
	})
	return res, nil
}

func (s *Snapshot) composeQuery(from, to *capability.Schema) (PathResult, error) {
	for _, sc := range []*capability.Schema{from, to} {
		if err := sc.Validate(); err != nil {
			return PathResult{}, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	path, found, excl, err := s.Compose(nil, from, to)
	return s.pathResult(path, found, excl), err
}

func (s *Snapshot) pathResult(path []Index, found bool, excl int) PathResult {
	var res PathResult
	if found {
		res.Path = s.namesOf(path)
	}
	if excl >= 0 {
		p := s.policies[excl]
		res.ExcludedBy = &p
	}
	return res
}

func (s *Snapshot) classesQuery(nontrivial bool) ClassesResult {
	res := ClassesResult{Classes: [][]string{}}
	for _, c := range s.Classes() {
		if !nontrivial || len(c) > 1 {
			res.Classes = append(res.Classes, s.namesOf(c))
		}
	}
	return res
}

// namesOf returns the display names of a list of indexes.
func (s *Snapshot) namesOf(p []Index) []string {
	out := make([]string, len(p))
	for i, v := range p {
		out[i] = s.names[v]
	}
	return out
}

// ParseType reads a compose type as written on a command line: a schema
// object in JSON, or a bare type name ("User" is a reference, "string" a
// primitive), the same shorthand capability files use.
func ParseType(s string) (*capability.Schema, error) {
	raw := []byte(s)
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		raw, _ = json.Marshal(s)
	}
	var sc capability.Schema
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, fmt.Errorf("%w: type %q: %v", ErrInvalidQuery, s, err)
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: type %q: %w", ErrInvalidQuery, s, err)
	}
	return &sc, nil
}
