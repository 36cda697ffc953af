package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
)

// hasher is the RFC 6962 SHA-256 tree hasher (what verifiers use).
var hasher = rfc6962.DefaultHasher

// hashChildren is RFC 6962's interior hash, SHA-256(0x01 || l || r),
// computed without the reference hasher's intermediate allocations.
func hashChildren(l, r []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], l)
	copy(buf[1+sha256.Size:], r)
	sum := sha256.Sum256(buf[:])
	return sum[:]
}

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// LeafHash is the RFC 6962 leaf hash of an event's canonical bytes:
// SHA-256(0x00 || bytes).
func LeafHash(canonical []byte) []byte {
	h := sha256.New()
	h.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	h.Write(canonical)
	return h.Sum(make([]byte, 0, sha256.Size))
}

// EmptyRoot is the root of the empty tree (SHA-256 of nothing).
func EmptyRoot() []byte { return hasher.EmptyRoot() }

// minStoredLevel is the lowest tree level kept in ledger.tree. Leaf hashes
// (level 0) are stored with their events, and a level-1 node is recomputed
// from its two leaves when a proof needs it: storing them would cost two
// writes per event for nodes that proofs rarely read.
const minStoredLevel = 2

func leafID(i uint64) compact.NodeID { return compact.NewNodeID(0, i) }

func nodeKey(id compact.NodeID) []byte {
	k := make([]byte, 9)
	k[0] = byte(id.Level)
	copy(k[1:], u64(id.Index))
	return k
}

// nodeSource returns tree node hashes (copies, safe after the transaction).
type nodeSource interface {
	node(id compact.NodeID) ([]byte, error)
}

// ledgerNodes reads nodes from a ledger: stored levels from the tree
// bucket, lower levels recomputed from the leaf hashes stored with events.
type ledgerNodes struct {
	tree, events *bolt.Bucket
}

func (n ledgerNodes) node(id compact.NodeID) ([]byte, error) {
	if id.Level >= minStoredLevel {
		return getNode(n.tree, id)
	}
	begin, end := id.Coverage()
	hashes := make([][]byte, 0, end-begin)
	c := n.events.Cursor()
	k, v := c.Seek(u64(begin))
	for i := begin; i < end; i++ {
		if !bytes.Equal(k, u64(i)) || len(v) < sha256.Size {
			return nil, fmt.Errorf("%w: event %d missing or malformed", ErrCorrupt, i)
		}
		hashes = append(hashes, append([]byte(nil), v[:sha256.Size]...))
		k, v = c.Next()
	}
	for len(hashes) > 1 {
		for j := 0; j < len(hashes)/2; j++ {
			hashes[j] = hashChildren(hashes[2*j], hashes[2*j+1])
		}
		hashes = hashes[:len(hashes)/2]
	}
	return hashes[0], nil
}

// getNode returns a copy of a stored node hash.
func getNode(b *bolt.Bucket, id compact.NodeID) ([]byte, error) {
	v := b.Get(nodeKey(id))
	if len(v) != sha256.Size {
		return nil, fmt.Errorf("%w: tree node (level %d, index %d) missing or malformed", ErrCorrupt, id.Level, id.Index)
	}
	return append([]byte(nil), v...), nil
}

func getNodes(src nodeSource, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := src.node(id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// loadRange rebuilds the compact range [0, size) from the perfect-subtree
// roots: at most 64 node reads.
func loadRange(src nodeSource, size uint64) (*compact.Range, error) {
	hashes, err := getNodes(src, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return rangeFactory.NewRange(0, size, hashes)
}

// appendLeaf adds a leaf hash to the compact range and passes, through
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

// rootAt computes the root of the tree's first size leaves in O(log size).
func rootAt(src nodeSource, size uint64) ([]byte, error) {
	r, err := loadRange(src, size)
	if err != nil {
		return nil, err
	}
	return rangeRoot(r), nil
}

// inclusionProof is the RFC 6962 inclusion proof of leaf index in the tree
// of the given size.
func inclusionProof(src nodeSource, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(src, nodes)
}

// consistencyProof is the RFC 6962 consistency proof between two sizes.
func consistencyProof(src nodeSource, from, to uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(src, nodes)
}

func rehash(src nodeSource, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := getNodes(src, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hashChildren)
}

func cloneRange(r *compact.Range) *compact.Range {
	hs := make([][]byte, len(r.Hashes()))
	copy(hs, r.Hashes())
	c, _ := rangeFactory.NewRange(r.Begin(), r.End(), hs)
	return c
}
