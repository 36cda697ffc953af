package ledger

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/testonly"
)

// memNodes is an in-memory node source holding every level.
type memNodes map[compact.NodeID][]byte

func (m memNodes) node(id compact.NodeID) ([]byte, error) {
	h, ok := m[id]
	if !ok {
		return nil, fmt.Errorf("no node %+v", id)
	}
	return h, nil
}

// The tree code reproduces the RFC 6962 reference vectors (the
// certificate-transparency 8-leaf test tree, as published in
// transparency-dev/merkle's testonly package): every root, every node, and
// proofs that transparency-dev's verifier accepts.
func TestRFC6962ReferenceTree(t *testing.T) {
	roots := testonly.RootHashes()
	nodes := memNodes{}
	rng := rangeFactory.NewEmptyRange(0)
	if got, _ := rootAtSize(nodes, 0); !bytes.Equal(got, roots[0]) {
		t.Errorf("empty root %x", got)
	}
	for i, in := range testonly.LeafInputs() {
		if !bytes.Equal(LeafHash(in), hasher.HashLeaf(in)) {
			t.Fatalf("LeafHash differs from the reference hasher on %x", in)
		}
		err := appendLeaf(rng, LeafHash(in), func(id compact.NodeID, h []byte) error {
			nodes[id] = h
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		size := uint64(i + 1)
		if got := rangeRoot(rng); !bytes.Equal(got, roots[size]) {
			t.Errorf("range root at %d: %x, want %x", size, got, roots[size])
		}
		if got, _ := rootAt(nodes, size); !bytes.Equal(got, roots[size]) {
			t.Errorf("stored root at %d: %x, want %x", size, got, roots[size])
		}
	}
	for level, hs := range testonly.NodeHashes() {
		for idx, want := range hs {
			if got := nodes[compact.NewNodeID(uint(level), uint64(idx))]; !bytes.Equal(got, want) {
				t.Errorf("node (%d,%d) = %x; want %x", level, idx, got, want)
			}
		}
	}
	checkReferenceProofs(t, nodes)
}

func checkReferenceProofs(t *testing.T, src nodeSource) {
	roots := testonly.RootHashes()
	leaves := testonly.NodeHashes()[0]
	for size := uint64(1); size <= 8; size++ {
		for idx := uint64(0); idx < size; idx++ {
			p, err := inclusionProof(src, idx, size)
			if err == nil {
				err = proof.VerifyInclusion(hasher, idx, size, leaves[idx], p, roots[size])
			}
			if err != nil {
				t.Errorf("inclusion %d in %d: %v", idx, size, err)
			}
		}
		for from := uint64(1); from <= size; from++ {
			p, err := consistencyProof(src, from, size)
			if err == nil {
				err = proof.VerifyConsistency(hasher, from, size, p, roots[from], roots[size])
			}
			if err != nil {
				t.Errorf("consistency %d to %d: %v", from, size, err)
			}
		}
	}
}

func TestHashChildrenMatchesReference(t *testing.T) {
	l, r := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	if !bytes.Equal(hashChildren(l, r), hasher.HashChildren(l, r)) {
		t.Fatal("hashChildren differs from RFC 6962")
	}
}

// Every stored node has its own slot, and siblings share a tile (so an
// inclusion path reads one tile per four levels).
func TestTileLayout(t *testing.T) {
	seen := map[[2]any]compact.NodeID{}
	for level := uint(minStoredLevel); level < minStoredLevel+12; level++ {
		for idx := uint64(0); idx < 300; idx++ {
			id := compact.NewNodeID(level, idx)
			k, slot := tileOf(id)
			if slot < 0 || slot >= tileSlots {
				t.Fatalf("%+v: slot %d", id, slot)
			}
			key := [2]any{k, slot}
			if other, dup := seen[key]; dup {
				t.Fatalf("%+v and %+v share tile %x slot %d", id, other, k, slot)
			}
			seen[key] = id
			if k2, _ := tileOf(id.Sibling()); k2 != k {
				t.Fatalf("%+v and its sibling are in different tiles", id)
			}
		}
	}
}
