package ledger

import (
	"crypto/sha256"
	"fmt"
	"math/bits"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// BatchProofs proves, from memory, that each event of one append batch is
// in the tree as it stands at the batch's end: the proofs a write path
// hands out with every decision, under one signature per batch, without
// reading the stored tiles.
//
// It holds the compact range before the batch (at most one node per level,
// left of the batch), every node the batch's appends completed (its leaves
// and each perfect subtree whose last leaf is in the batch: about two per
// event) and, for the tree at the batch's end, the root and the hashes of
// its right border's partial subtrees. Every node of an inclusion path of
// a batch event is one of those, so a proof is a walk up the levels with
// no hashing. It is immutable, and safe for concurrent use.
//
// A Tx records one between BeginBatch and EndBatch; Store.AppendBatch
// returns the one of its events.
type BatchProofs struct {
	begin, end uint64
	// before holds the nodes of the compact range [0, begin), one per bit
	// of begin, highest level first, 32 bytes each; after those of
	// [0, end).
	before, after []byte
	// levels[l] holds the level-l nodes with indexes begin>>l to
	// end>>l - 1 (the ones the batch completed), 32 bytes each.
	levels [][]byte
	// border, computed on first use, holds for j = 0, 1, ... the hash of
	// the lowest j+1 nodes of after folded right to left: the right
	// border's partial subtrees of the tree of size end, the ephemeral
	// nodes of inclusion paths; the last is the root.
	once   sync.Once
	border []byte
}

// batchRecorder collects a batch's nodes as a Tx appends them.
type batchRecorder struct {
	p      *BatchProofs
	levels [][]byte
}

func newBatchRecorder(rng *compact.Range) *batchRecorder {
	p := &BatchProofs{begin: rng.End(), end: rng.End(), before: flatten(rng.Hashes())}
	return &batchRecorder{p: p}
}

func flatten(hs [][]byte) []byte {
	b := make([]byte, 0, len(hs)*sha256.Size)
	for _, h := range hs {
		b = append(b, h...)
	}
	return b
}

// node records a node the append completed. Nodes come level by level in
// increasing index order, each level's first being index begin>>level.
func (r *batchRecorder) node(id compact.NodeID, h []byte) {
	for int(id.Level) >= len(r.levels) {
		r.levels = append(r.levels, nil)
	}
	r.levels[id.Level] = append(r.levels[id.Level], h...)
}

// finish completes the proofs at rng, the compact range [0, end). The
// border is left for the first proof: a replica that serves none never
// hashes it.
func (r *batchRecorder) finish(rng *compact.Range) *BatchProofs {
	p := r.p
	p.end, p.levels, p.after = rng.End(), r.levels, flatten(rng.Hashes())
	return p
}

func (p *BatchProofs) computeBorder() {
	n := len(p.after) / sha256.Size
	p.border = make([]byte, 0, len(p.after))
	var acc []byte
	for j := n - 1; j >= 0; j-- {
		h := p.after[j*sha256.Size : (j+1)*sha256.Size]
		if acc == nil {
			acc = h
		} else {
			acc = hashChildren(h, acc)
		}
		p.border = append(p.border, acc...)
	}
}

// borderAt is the j-th border hash (see BatchProofs.border).
func (p *BatchProofs) borderAt(j int) []byte {
	p.once.Do(p.computeBorder)
	return p.border[j*sha256.Size : (j+1)*sha256.Size : (j+1)*sha256.Size]
}

// Begin is the index of the batch's first event.
func (p *BatchProofs) Begin() uint64 { return p.begin }

// Len is the number of events in the batch.
func (p *BatchProofs) Len() int { return int(p.end - p.begin) }

// Size is the tree size at the batch's end: the size its proofs are for.
func (p *BatchProofs) Size() uint64 { return p.end }

// Root is the tree root at the batch's end (a copy).
func (p *BatchProofs) Root() []byte {
	if p.end == 0 {
		return EmptyRoot()
	}
	return append([]byte(nil), p.borderAt(bits.OnesCount64(p.end)-1)...)
}

// LeafHash is the leaf hash of event index of the batch (a copy).
func (p *BatchProofs) LeafHash(index uint64) ([]byte, error) {
	if index < p.begin || index >= p.end {
		return nil, fmt.Errorf("%w: event %d is not in the batch [%d, %d)", ErrOutOfRange, index, p.begin, p.end)
	}
	h := p.at(0, index)
	return append([]byte(nil), h...), nil
}

// at is the level-l node of index k that the batch completed.
func (p *BatchProofs) at(l uint, k uint64) []byte {
	j := (k - p.begin>>l) * sha256.Size
	return p.levels[l][j : j+sha256.Size : j+sha256.Size]
}

// node is a complete node (level l, index k) of the tree of size end that
// an inclusion path of a batch event may need.
func (p *BatchProofs) node(l uint, k uint64) ([]byte, error) {
	if k >= p.begin>>l {
		return p.at(l, k), nil
	}
	// Left of everything the batch completed: the compact range's node.
	if p.begin&(1<<l) != 0 && k == p.begin>>l-1 {
		j := bits.OnesCount64(p.begin>>(l+1)) * sha256.Size
		return p.before[j : j+sha256.Size : j+sha256.Size], nil
	}
	return nil, fmt.Errorf("%w: batch proofs hold no node (level %d, index %d)", ErrCorrupt, l, k)
}

// Inclusion returns the RFC 6962 inclusion proof of event index of the
// batch in the tree of size Size(), leaf to root: what
// Store.InclusionProof(index, Size()) returns as its proof. The hashes are
// the BatchProofs' own memory, shared by every proof that needs them:
// read them, never modify them.
func (p *BatchProofs) Inclusion(index uint64) ([][]byte, error) {
	if index < p.begin || index >= p.end {
		return nil, fmt.Errorf("%w: event %d is not in the batch [%d, %d)", ErrOutOfRange, index, p.begin, p.end)
	}
	height := uint(bits.Len64(p.end - 1))
	out := make([][]byte, 0, height)
	last := p.end - 1 // the last leaf
	for l := uint(0); l < height; l++ {
		sib := (index >> l) ^ 1
		var h []byte
		switch {
		case sib > last>>l: // no sibling: the node is promoted
			continue
		case sib < p.end>>l: // a complete node
			var err error
			if h, err = p.node(l, sib); err != nil {
				return nil, err
			}
		default: // the right border's partial subtree: the nodes below l
			h = p.borderAt(bits.OnesCount64(p.end&(1<<l-1)) - 1)
		}
		out = append(out, h[:sha256.Size:sha256.Size])
	}
	return out, nil
}
