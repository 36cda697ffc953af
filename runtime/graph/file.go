package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/contract"
	"github.com/cnv-project/cnv/runtime/limits"
)

// File is a capability file: capabilities, edges and path policies to
// register together. README.md ("Capability files") documents the format.
type File struct {
	Capabilities []FileCapability `json:"capabilities"`
	Edges        []FileEdge       `json:"edges,omitempty"`
	PathPolicies []PathPolicy     `json:"path_policies,omitempty"`
}

// FileCapability is one capability in a file. Input and output are schema
// objects or bare type names.
type FileCapability struct {
	Path        string                  `json:"path"`
	Version     string                  `json:"version,omitempty"`
	Description string                  `json:"description,omitempty"`
	Effects     []capability.EffectType `json:"effects,omitempty"`
	Input       *capability.Schema      `json:"input,omitempty"`
	Output      *capability.Schema      `json:"output,omitempty"`
	Cost        uint32                  `json:"cost,omitempty"`
	// Reliability is a percentage; absent means 100.
	Reliability *uint8                 `json:"reliability,omitempty"`
	Tags        []string               `json:"tags,omitempty"`
	Sensitivity capability.Sensitivity `json:"sensitivity,omitempty"`
	FastPath    bool                   `json:"fast_path,omitempty"`
	Contract    *contract.Contract     `json:"contract,omitempty"`
}

// FileEdge is one edge in a file; from and to name capabilities as
// Registry.Resolve does.
type FileEdge struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	Type EdgeType `json:"type"`
	// Name names a custom edge's relation.
	Name string `json:"name,omitempty"`
	// Weight defaults to 1.
	Weight      *float64 `json:"weight,omitempty"`
	Description string   `json:"description,omitempty"`
}

// rawFile is File with its items undecoded, so each item's errors can name
// its position.
type rawFile struct {
	Capabilities []json.RawMessage `json:"capabilities"`
	Edges        []json.RawMessage `json:"edges"`
	PathPolicies []json.RawMessage `json:"path_policies"`
}

// ParseFile parses and validates a capability file: size and count limits,
// no unknown or repeated fields (the error names the JSON path), every
// capability, edge and policy valid on its own. Names in edges and
// policies are resolved when the file is merged into a registry.
func ParseFile(data []byte) (*File, error) {
	if len(data) > limits.MaxCapabilityFileBytes {
		return nil, fmt.Errorf("%w: file is %d bytes, limit %d", ErrTooLarge, len(data), limits.MaxCapabilityFileBytes)
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: the document must be a JSON object", ErrInvalidFile)
	}
	if err := checkFields(data, reflect.TypeFor[File]()); err != nil {
		return nil, err
	}
	var raw rawFile
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidFile, err)
	}
	if err := raw.checkCounts(); err != nil {
		return nil, err
	}
	f := &File{
		Capabilities: make([]FileCapability, len(raw.Capabilities)),
		Edges:        make([]FileEdge, len(raw.Edges)),
		PathPolicies: make([]PathPolicy, len(raw.PathPolicies)),
	}
	if err := decodeItems("capabilities", raw.Capabilities, f.Capabilities, FileCapability.validate); err != nil {
		return nil, err
	}
	if err := decodeItems("edges", raw.Edges, f.Edges, FileEdge.validate); err != nil {
		return nil, err
	}
	return f, decodeItems("path_policies", raw.PathPolicies, f.PathPolicies, PathPolicy.validate)
}

func (raw *rawFile) checkCounts() error {
	for _, c := range []struct {
		what   string
		n, lim int
	}{
		{"capabilities", len(raw.Capabilities), limits.MaxCapabilities},
		{"edges", len(raw.Edges), limits.MaxGraphEdges},
		{"path_policies", len(raw.PathPolicies), limits.MaxPathPolicies},
	} {
		if c.n > c.lim {
			return fmt.Errorf("%w: %d %s, limit %d", ErrTooLarge, c.n, c.what, c.lim)
		}
	}
	return nil
}

// decodeItems decodes and validates each raw item into out, naming the
// item's JSON path in any error.
func decodeItems[T any](what string, raw []json.RawMessage, out []T, validate func(T) error) error {
	for i, r := range raw {
		where := fmt.Sprintf("%s[%d]", what, i)
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return itemErr(where, err)
		}
		if err := validate(out[i]); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func itemErr(where string, err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		where += "." + te.Field
	case errors.Is(err, contract.ErrInvalidContract):
		where += ".contract"
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrInvalidFile, where, err)
}

// Node converts the file entry into a registry node.
func (c FileCapability) Node() Node {
	n := Node{
		Path: capability.Path(c.Path), Version: c.Version, Description: c.Description,
		Effects: c.Effects, Input: c.Input, Output: c.Output, Cost: c.Cost,
		Reliability: 100, Tags: c.Tags, Sensitivity: c.Sensitivity, FastPath: c.FastPath,
		Contract: c.Contract,
	}
	if c.Reliability != nil {
		n.Reliability = *c.Reliability
	}
	n.Capability = n.Ref().ID()
	return n
}

func (c FileCapability) validate() error {
	n := c.Node()
	return n.validate()
}

// edge converts the file entry into an edge between resolved nodes.
func (e FileEdge) edge(from, to NodeID) Edge {
	out := Edge{From: from, To: to, Type: e.Type, Name: e.Name, Weight: 1, Description: e.Description}
	if e.Weight != nil {
		out.Weight = *e.Weight
	}
	return out
}

func (e FileEdge) validate() error {
	if e.From == "" || e.To == "" {
		return fmt.Errorf("%w: from and to are required", ErrInvalidEdge)
	}
	out := e.edge(0, 0)
	return out.validate()
}

// Merge registers the file's capabilities, then its edges, then its
// policies, in file order. It is atomic: on any error (a duplicate
// capability, edge or policy, an unknown name) the registry is unchanged,
// and the error names the failing item's JSON path.
func (r *Registry) Merge(f *File) error {
	c := r.Clone()
	if err := c.apply(f); err != nil {
		return err
	}
	*r = *c
	return nil
}

func (r *Registry) apply(f *File) error {
	for i, fc := range f.Capabilities {
		if _, err := r.AddCapability(fc.Node()); err != nil {
			return fmt.Errorf("capabilities[%d]: %w", i, err)
		}
	}
	for i, fe := range f.Edges {
		if err := r.addFileEdge(fe); err != nil {
			return fmt.Errorf("edges[%d]: %w", i, err)
		}
	}
	for i, p := range f.PathPolicies {
		if err := r.AddPolicy(p); err != nil {
			return fmt.Errorf("path_policies[%d]: %w", i, err)
		}
	}
	return nil
}

func (r *Registry) addFileEdge(fe FileEdge) error {
	from, err := r.Resolve(fe.From)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	to, err := r.Resolve(fe.To)
	if err != nil {
		return fmt.Errorf("to: %w", err)
	}
	_, err = r.AddEdgeWith(fe.edge(from, to))
	return err
}

// BuildFile parses a capability file, registers it into an empty registry
// and returns the snapshot at raftIndex.
func BuildFile(data []byte, raftIndex uint64) (*Snapshot, error) {
	f, err := ParseFile(data)
	if err != nil {
		return nil, err
	}
	r := NewRegistry()
	if err := r.Merge(f); err != nil {
		return nil, err
	}
	return r.Snapshot(raftIndex)
}
