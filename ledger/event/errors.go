package event

import "github.com/cnv-project/cnv/runtime/cnverr"

// Sentinel errors. Callers test them with errors.Is; messages wrap them with
// the specifics.
var (
	// ErrInvalidEvent: an event fails validation (unknown type, missing or
	// oversize field, payload that does not match its type).
	ErrInvalidEvent = cnverr.New(cnverr.InvalidInput, "invalid ledger event")
	// ErrDecode: stored or imported bytes do not decode as an event.
	ErrDecode = cnverr.New(cnverr.InvalidInput, "malformed ledger event")
)
