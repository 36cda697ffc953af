package ledger

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
)

// hasher is the RFC 6962 SHA-256 tree hasher.
var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// LeafHash is the RFC 6962 leaf hash of an event's canonical bytes.
func LeafHash(canonical []byte) []byte { return hasher.HashLeaf(canonical) }

// EmptyRoot is the root of the empty tree (SHA-256 of nothing).
func EmptyRoot() []byte { return hasher.EmptyRoot() }

func leafID(i uint64) compact.NodeID { return compact.NewNodeID(0, i) }

func nodeKey(id compact.NodeID) []byte {
	k := make([]byte, 9)
	k[0] = byte(id.Level)
	copy(k[1:], u64(id.Index))
	return k
}

// getNode returns a copy of a stored node hash.
func getNode(b *bolt.Bucket, id compact.NodeID) ([]byte, error) {
	v := b.Get(nodeKey(id))
	if len(v) != hasher.Size() {
		return nil, fmt.Errorf("%w: tree node (level %d, index %d) missing or malformed", ErrCorrupt, id.Level, id.Index)
	}
	return append([]byte(nil), v...), nil
}

func getNodes(b *bolt.Bucket, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := getNode(b, id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// loadRange rebuilds the compact range [0, size) from the stored
// perfect-subtree roots: at most 64 reads.
func loadRange(b *bolt.Bucket, size uint64) (*compact.Range, error) {
	hashes, err := getNodes(b, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return rangeFactory.NewRange(0, size, hashes)
}

// appendLeaf adds a leaf hash to the compact range and stores, through
// put, the leaf and every perfect-subtree root it completes.
func appendLeaf(rng *compact.Range, leaf []byte, put func(id compact.NodeID, h []byte) error) error {
	var perr error
	err := rng.Append(leaf, func(id compact.NodeID, h []byte) {
		if perr == nil {
			perr = put(id, h)
		}
	})
	return firstErr(err, perr)
}

// rangeRoot is the RFC 6962 root of a compact range starting at 0.
func rangeRoot(r *compact.Range) []byte {
	if r.End() == 0 {
		return EmptyRoot()
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// rootAt computes the root of the tree's first size leaves from stored
// nodes in O(log size).
func rootAt(b *bolt.Bucket, size uint64) ([]byte, error) {
	r, err := loadRange(b, size)
	if err != nil {
		return nil, err
	}
	return rangeRoot(r), nil
}

// inclusionProof is the RFC 6962 inclusion proof of leaf index in the tree
// of the given size.
func inclusionProof(b *bolt.Bucket, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(b, nodes)
}

// consistencyProof is the RFC 6962 consistency proof between two sizes.
func consistencyProof(b *bolt.Bucket, from, to uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(b, nodes)
}

func rehash(b *bolt.Bucket, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := getNodes(b, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

func cloneRange(r *compact.Range) *compact.Range {
	hs := make([][]byte, len(r.Hashes()))
	copy(hs, r.Hashes())
	c, _ := rangeFactory.NewRange(r.Begin(), r.End(), hs)
	return c
}
