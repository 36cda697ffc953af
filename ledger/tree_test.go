package ledger

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/testonly"
	bolt "go.etcd.io/bbolt"
)

// The stored tree reproduces the RFC 6962 reference vectors (the
// certificate-transparency 8-leaf test tree, as published in
// transparency-dev/merkle's testonly package): every root, every node, and
// proofs that verify.
func TestRFC6962ReferenceTree(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	roots := testonly.RootHashes()
	err = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bucketTree)
		rng := rangeFactory.NewEmptyRange(0)
		if got, _ := rootAtSize(b, 0); !bytes.Equal(got, roots[0]) {
			t.Errorf("empty root %x", got)
		}
		for i, in := range testonly.LeafInputs() {
			if err := appendLeaf(rng, hasher.HashLeaf(in), func(id compact.NodeID, h []byte) error {
				return b.Put(nodeKey(id), h)
			}); err != nil {
				return err
			}
			size := uint64(i + 1)
			if got := rangeRoot(rng); !bytes.Equal(got, roots[size]) {
				t.Errorf("range root at %d: %x, want %x", size, got, roots[size])
			}
			if got, _ := rootAt(b, size); !bytes.Equal(got, roots[size]) {
				t.Errorf("stored root at %d: %x, want %x", size, got, roots[size])
			}
		}
		checkReferenceNodes(t, b)
		checkReferenceProofs(t, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkReferenceNodes(t *testing.T, b *bolt.Bucket) {
	for level, hs := range testonly.NodeHashes() {
		for idx, want := range hs {
			got, err := getNode(b, compact.NewNodeID(uint(level), uint64(idx)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("node (%d,%d) = %x, %v; want %x", level, idx, got, err, want)
			}
		}
	}
}

func checkReferenceProofs(t *testing.T, b *bolt.Bucket) {
	roots := testonly.RootHashes()
	leaves := testonly.NodeHashes()[0]
	for size := uint64(1); size <= 8; size++ {
		for idx := uint64(0); idx < size; idx++ {
			p, err := inclusionProof(b, idx, size)
			if err == nil {
				err = proof.VerifyInclusion(hasher, idx, size, leaves[idx], p, roots[size])
			}
			if err != nil {
				t.Errorf("inclusion %d in %d: %v", idx, size, err)
			}
		}
		for from := uint64(1); from <= size; from++ {
			p, err := consistencyProof(b, from, size)
			if err == nil {
				err = proof.VerifyConsistency(hasher, from, size, p, roots[from], roots[size])
			}
			if err != nil {
				t.Errorf("consistency %d to %d: %v", from, size, err)
			}
		}
	}
}
