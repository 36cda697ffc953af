package ledger

import "github.com/cnv-project/cnv/runtime/cnverr"

// Sentinel errors. Callers test them with errors.Is; messages wrap them with
// the specifics. Event validation and decoding fail with
// event.ErrInvalidEvent and event.ErrDecode.
var (
	// ErrSequence: an imported event's index, time or derived fields do not
	// continue the ledger exactly.
	ErrSequence = cnverr.New(cnverr.Conflict, "event does not continue the ledger")
	// ErrAlreadyApplied: a batch carries a Raft index at or below the last
	// one applied; applying it again would duplicate events.
	ErrAlreadyApplied = cnverr.New(cnverr.Conflict, "raft entry already applied")
	// ErrOutOfRange: an index or tree size beyond the ledger.
	ErrOutOfRange = cnverr.New(cnverr.InvalidInput, "index or size out of range")
	// ErrNotFound: no such event or checkpoint.
	ErrNotFound = cnverr.New(cnverr.NotFound, "not found")
	// ErrCheckpoint: a checkpoint that does not match the tree, conflicts
	// with a stored one, or whose signatures do not verify.
	ErrCheckpoint = cnverr.New(cnverr.InvalidInput, "checkpoint rejected")
	// ErrCorrupt: the store's contents are inconsistent (a missing bucket,
	// a tree node that disagrees with its events, a bad meta value).
	ErrCorrupt = cnverr.New(cnverr.InvariantBreach, "ledger store is corrupt")
	// ErrClosed: the store was closed.
	ErrClosed = cnverr.New(cnverr.Unavailable, "ledger store is closed")
	// ErrLocked: another process holds the ledger file.
	ErrLocked = cnverr.New(cnverr.Unavailable, "ledger file is locked by another process")
	// ErrTxFailed: an earlier write in this transaction failed, so nothing
	// in it will be committed.
	ErrTxFailed = cnverr.New(cnverr.InternalError, "ledger transaction failed earlier")
	// ErrInvalidQuery: a query with contradictory or oversize parameters.
	ErrInvalidQuery = cnverr.New(cnverr.InvalidInput, "invalid ledger query")
)
