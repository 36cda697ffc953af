package graph

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

var (
	// ErrNodeNotFound is returned when a name, ID or index names no
	// capability in the graph.
	ErrNodeNotFound = cnverr.New(cnverr.NotFound, "capability not in graph")

	// ErrAmbiguous is returned when a bare path names several versions of a
	// capability; name one as path@version.
	ErrAmbiguous = cnverr.New(cnverr.InvalidInput, "ambiguous capability name")

	// ErrDuplicateCapability is returned when a capability ID is added twice.
	ErrDuplicateCapability = cnverr.New(cnverr.Conflict, "duplicate capability")

	// ErrDuplicateEdge is returned when an edge with the same ends, type and
	// name already exists.
	ErrDuplicateEdge = cnverr.New(cnverr.Conflict, "duplicate edge")

	// ErrDuplicatePolicy is returned when an identical path policy exists.
	ErrDuplicatePolicy = cnverr.New(cnverr.Conflict, "duplicate path policy")

	// ErrInvalidNode is returned for a capability that fails validation.
	ErrInvalidNode = cnverr.New(cnverr.InvalidInput, "invalid capability")

	// ErrInvalidEdge is returned for an edge that fails validation.
	ErrInvalidEdge = cnverr.New(cnverr.InvalidInput, "invalid edge")

	// ErrInvalidPolicy is returned for a malformed path policy.
	ErrInvalidPolicy = cnverr.New(cnverr.InvalidInput, "invalid path policy")

	// ErrTooLarge is returned when a registry, file or query result would
	// exceed a limit in runtime/limits.
	ErrTooLarge = cnverr.New(cnverr.TooLarge, "capability graph limit exceeded")

	// ErrInvalidFile is returned for a capability file that cannot be parsed
	// or that names unknown fields.
	ErrInvalidFile = cnverr.New(cnverr.InvalidInput, "invalid capability file")

	// ErrInvalidSnapshot is returned by Decode for bytes that are malformed,
	// fail their hash, or describe an inconsistent graph.
	ErrInvalidSnapshot = cnverr.New(cnverr.InvalidInput, "invalid graph snapshot")

	// ErrSearchBudget is returned when a policy-constrained search would
	// exceed limits.MaxGraphSearchSteps.
	ErrSearchBudget = cnverr.New(cnverr.ResourceExhausted, "graph search budget exhausted")

	// ErrInvalidQuery is returned for a malformed query request.
	ErrInvalidQuery = cnverr.New(cnverr.InvalidInput, "invalid graph query")
)

func notFound(name string) error { return fmt.Errorf("%w: %s", ErrNodeNotFound, name) }

func ambiguous(name string) error {
	return fmt.Errorf("%w: %s has several versions; name one as %s@VERSION", ErrAmbiguous, name, name)
}
