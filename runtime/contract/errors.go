package contract

import "github.com/cnv-project/cnv/runtime/cnverr"

var (
	// ErrInvalidContract is returned for a contract that fails validation or
	// cannot be decoded.
	ErrInvalidContract = cnverr.New(cnverr.InvalidInput, "invalid execution contract")

	// ErrInsufficientResources is returned by CheckResources when the
	// available slots or memory cannot host one more invocation.
	ErrInsufficientResources = cnverr.New(cnverr.ResourceExhausted, "insufficient resources for the contract")
)
