package graph

import (
	"fmt"
	"math"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/contract"
	"github.com/cnv-project/cnv/runtime/limits"
)

// NodeID identifies a capability in a Registry. IDs are given out from 0 in
// the order capabilities are added and never reused: there is no removal.
type NodeID uint32

// EdgeID identifies an edge in a Registry, from 0 in insertion order.
type EdgeID uint32

// Index is a node's dense position in a Snapshot. Snapshots order nodes by
// (path, version), so index order is name order.
type Index int32

// EdgeType is the kind of an edge. Its JSON and msgpack form is the
// lowercase name.
type EdgeType uint8

const (
	// Produces: the source's output feeds the target's input.
	Produces EdgeType = iota
	// Requires: the source needs the target.
	Requires
	// Equivalent: either capability may stand in for the other.
	Equivalent
	// Dominates: the source provides strictly more than the target.
	Dominates
	// Custom: a user-named relation; Edge.Name says which.
	Custom
	numEdgeTypes
)

var edgeTypeNames = [numEdgeTypes]string{"produces", "requires", "equivalent", "dominates", "custom"}

// String returns the lowercase name.
func (t EdgeType) String() string {
	if t < numEdgeTypes {
		return edgeTypeNames[t]
	}
	return fmt.Sprintf("edge_type(%d)", uint8(t))
}

// ParseEdgeType parses a lowercase edge type name.
func ParseEdgeType(s string) (EdgeType, error) {
	for i, n := range edgeTypeNames {
		if n == s {
			return EdgeType(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown edge type %q (want one of %v)", ErrInvalidEdge, s, edgeTypeNames)
}

// MarshalText implements encoding.TextMarshaler (JSON and msgpack).
func (t EdgeType) MarshalText() ([]byte, error) {
	if t >= numEdgeTypes {
		return nil, fmt.Errorf("%w: edge type %d", ErrInvalidEdge, uint8(t))
	}
	return []byte(edgeTypeNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *EdgeType) UnmarshalText(b []byte) error {
	v, err := ParseEdgeType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Followed reports whether reachability and path queries follow edges of
// this type: produces and requires only.
func (t EdgeType) Followed() bool { return t == Produces || t == Requires }

// Node is a capability in the graph. Once added to a Registry a Node is
// immutable: the registry and every snapshot built from it share its
// schemas and contract, which nobody may modify afterwards.
type Node struct {
	ID          NodeID                 `json:"id"`
	Capability  capability.ID          `json:"capability_id"`
	Path        capability.Path        `json:"path"`
	Version     string                 `json:"version,omitempty"`
	Description string                 `json:"description,omitempty"`
	Input       *capability.Schema     `json:"input,omitempty"`
	Output      *capability.Schema     `json:"output,omitempty"`
	Effects     capability.Effects     `json:"effects,omitempty"`
	Sensitivity capability.Sensitivity `json:"sensitivity"`
	Cost        uint32                 `json:"cost"`
	// Reliability is a percentage, 0 to 100.
	Reliability uint8    `json:"reliability"`
	Tags        []string `json:"tags,omitempty"`
	// FastPath marks capabilities the cluster's hot path may serve.
	FastPath bool               `json:"fast_path,omitempty"`
	Contract *contract.Contract `json:"contract,omitempty"`
}

// Ref returns the node's path and version.
func (n *Node) Ref() capability.Ref { return capability.Ref{Path: n.Path, Version: n.Version} }

// validate checks every field; Capability must already be derived.
func (n *Node) validate() error {
	if _, err := capability.ParsePath(string(n.Path)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidNode, err)
	}
	if n.Version != "" {
		if err := capability.ParseVersion(n.Version); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidNode, n.Path, err)
		}
	}
	if want := n.Ref().ID(); n.Capability != want {
		return fmt.Errorf("%w: %s: capability id %q, want %q", ErrInvalidNode, n.Ref(), n.Capability, want)
	}
	if err := n.validateDescribed(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidNode, n.Ref(), err)
	}
	return nil
}

func (n *Node) validateDescribed() error {
	for _, s := range []*capability.Schema{n.Input, n.Output} {
		if s != nil {
			if err := s.Validate(); err != nil {
				return err
			}
		}
	}
	for _, e := range n.Effects {
		if _, err := e.MarshalText(); err != nil {
			return err
		}
	}
	if _, err := n.Sensitivity.MarshalText(); err != nil {
		return err
	}
	if n.Reliability > 100 {
		return fmt.Errorf("reliability %d is above 100", n.Reliability)
	}
	if err := checkText(n.Description, n.Tags); err != nil {
		return err
	}
	if n.Contract != nil {
		return n.Contract.Validate()
	}
	return nil
}

func checkText(desc string, tags []string) error {
	if len(desc) > limits.MaxCapabilityDescriptionLen {
		return fmt.Errorf("description is %d bytes, limit %d", len(desc), limits.MaxCapabilityDescriptionLen)
	}
	if len(tags) > limits.MaxCapabilityTags {
		return fmt.Errorf("%d tags, limit %d", len(tags), limits.MaxCapabilityTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > limits.MaxCapabilityTagLen {
			return fmt.Errorf("tag %q must be 1 to %d bytes", t, limits.MaxCapabilityTagLen)
		}
	}
	return nil
}

// Edge is a typed, directed edge between two capabilities.
type Edge struct {
	ID   EdgeID   `json:"id"`
	From NodeID   `json:"from"`
	To   NodeID   `json:"to"`
	Type EdgeType `json:"type"`
	// Name names a custom edge's relation; it is empty for every other type.
	Name string `json:"name,omitempty"`
	// Weight is recorded and exported; queries count hops. Finite, >= 0.
	Weight      float64 `json:"weight"`
	Description string  `json:"description,omitempty"`
}

// validate checks the edge's own fields (not its ends).
func (e *Edge) validate() error {
	if e.Type >= numEdgeTypes {
		return fmt.Errorf("%w: edge type %d", ErrInvalidEdge, uint8(e.Type))
	}
	if (e.Type == Custom) != (e.Name != "") {
		return fmt.Errorf("%w: a custom edge needs a name and only a custom edge may have one", ErrInvalidEdge)
	}
	if len(e.Name) > limits.MaxIDLen {
		return fmt.Errorf("%w: name is %d bytes, limit %d", ErrInvalidEdge, len(e.Name), limits.MaxIDLen)
	}
	if math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) || e.Weight < 0 {
		return fmt.Errorf("%w: weight %v must be finite and >= 0", ErrInvalidEdge, e.Weight)
	}
	if len(e.Description) > limits.MaxCapabilityDescriptionLen {
		return fmt.Errorf("%w: description is %d bytes, limit %d", ErrInvalidEdge,
			len(e.Description), limits.MaxCapabilityDescriptionLen)
	}
	return nil
}
