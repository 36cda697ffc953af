package fsm

import (
	"sort"
	"sync"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Proofs for what was just applied.
//
// The write path answers each invocation with an inclusion proof of its
// ledger event into the ledger's root at the end of the Raft entry that
// carried it, under one signature per entry. Reading each proof from the
// stored tiles would cost more than applying the invocation, so every
// applied entry's batch proofs (ledger.BatchProofs: the compact range
// before it and the nodes its appends completed) are kept in memory for
// the most recent entries, for a caller that asks shortly after apply.
// Keeping them costs a copy of about two hashes per event; the hashing a
// proof needs is left to the first caller, so a replica that serves none
// pays nothing more.

// BatchProofs returns the inclusion proofs of the ledger events the Raft
// entry at raftIndex appended, against the ledger at the end of that
// entry. found is false when the entry appended no event, was never
// applied here, or is no longer among the recent entries kept (see
// limits.MaxRecentEntryProofs); its proofs then come from the store
// (Store.InclusionProof).
func (f *FSM) BatchProofs(raftIndex uint64) (p *ledger.BatchProofs, found bool) {
	return f.recent.get(raftIndex)
}

type entryProofs struct {
	index  uint64
	proofs *ledger.BatchProofs
}

// recentProofs is a bounded ring of the latest entries' batch proofs, in
// Raft index order.
type recentProofs struct {
	mu     sync.RWMutex
	ring   []entryProofs // allocated on first use, limits.MaxRecentEntryProofs long
	first  int           // position of the oldest entry
	n      int           // entries kept
	leaves int           // their events
}

func (r *recentProofs) at(i int) *entryProofs { return &r.ring[(r.first+i)%len(r.ring)] }

// add keeps the proofs of newly applied entries (in index order), then
// forgets the oldest beyond the bounds; the newest entry is always kept.
func (r *recentProofs) add(ps []entryProofs) {
	if len(ps) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ring == nil {
		r.ring = make([]entryProofs, limits.MaxRecentEntryProofs)
	}
	for _, p := range ps {
		if r.n == len(r.ring) {
			r.dropOldest()
		}
		*r.at(r.n) = p
		r.n++
		r.leaves += p.proofs.Len()
		for r.n > 1 && r.leaves > limits.MaxRecentProofEvents {
			r.dropOldest()
		}
	}
}

func (r *recentProofs) dropOldest() {
	old := r.at(0)
	r.leaves -= old.proofs.Len()
	*old = entryProofs{}
	r.first, r.n = (r.first+1)%len(r.ring), r.n-1
}

func (r *recentProofs) get(index uint64) (*ledger.BatchProofs, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := sort.Search(r.n, func(i int) bool { return r.at(i).index >= index })
	if i < r.n && r.at(i).index == index {
		return r.at(i).proofs, true
	}
	return nil, false
}

// reset forgets every entry (the ledger under them was replaced).
func (r *recentProofs) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.ring)
	r.first, r.n, r.leaves = 0, 0, 0
}
