package fsm

import (
	"crypto/sha256"
	"fmt"

	"github.com/cnv-project/cnv/fsm/state"
)

// The replicated state lives in package state, in its namespace of the
// ledger's file; these are its records as the FSM's API names them.
type (
	// Node is a cluster member's record.
	Node = state.Node
	// LinkState is the replicated state of one link: uses charged and
	// revocation.
	LinkState = state.LinkState
	// Tombstone is a committed removal of a server (membership.go).
	Tombstone = state.Tombstone
)

// must stops the node on a failed state write: the batch's transaction is
// poisoned by it anyway, and ApplyBatch stops the node when it fails.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("fsm: write state: %v", err))
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
