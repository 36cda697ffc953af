package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// checkBatch compares every proof of a batch with the store's and has
// the reference verifier accept it.
func checkBatch(t *testing.T, s *Store, p *BatchProofs) {
	t.Helper()
	root, err := s.Root(p.Size())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Root(), root) {
		t.Fatalf("batch [%d, %d): root %x, the store's %x", p.Begin(), p.Size(), p.Root(), root)
	}
	for i := p.Begin(); i < p.Size(); i++ {
		got, err := p.Inclusion(i)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.InclusionProof(i, p.Size())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.Proof) {
			t.Fatalf("event %d of [%d, %d): %d hashes, the store's %d", i, p.Begin(), p.Size(), len(got), len(want.Proof))
		}
		for j := range got {
			if !bytes.Equal(got[j], want.Proof[j]) {
				t.Fatalf("event %d of [%d, %d): hash %d differs", i, p.Begin(), p.Size(), j)
			}
		}
		leaf, err := p.LeafHash(i)
		if err != nil || !bytes.Equal(leaf, want.LeafHash) {
			t.Fatalf("event %d: leaf %x %v, the store's %x", i, leaf, err, want.LeafHash)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, p.Size(), leaf, got, p.Root()); err != nil {
			t.Fatalf("event %d of [%d, %d): %v", i, p.Begin(), p.Size(), err)
		}
	}
	for _, i := range []uint64{p.Begin() - 1, p.Size()} {
		if i == p.Begin()-1 && p.Begin() == 0 {
			continue
		}
		if _, err := p.Inclusion(i); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("event %d outside [%d, %d): %v", i, p.Begin(), p.Size(), err)
		}
	}
}

// Batch proofs agree with the stored tree's proofs for every event, over
// random batch sizes crossing every kind of boundary.
func TestBatchProofsAgreeWithTheStore(t *testing.T) {
	s := openTest(t)
	r := rand.New(rand.NewSource(1))
	sizes := []int{1, 1, 2, 1, 3, 8, 16, 5, 64, 127, 1, 255, 256, 2, 511, 33}
	for len(sizes) < 120 {
		sizes = append(sizes, 1+r.Intn(90))
	}
	n := 0
	for _, k := range sizes {
		res := mustAppend(t, s, AppendOptions{Time: t0}, benchBatch(n, k)...)
		p := res.Proofs
		if p.Begin() != uint64(n) || p.Len() != k || p.Size() != res.Head.Size || !bytes.Equal(p.Root(), res.Head.Root) {
			t.Fatalf("batch at %d of %d: [%d, %d) root %x, head %+v", n, k, p.Begin(), p.Size(), p.Root(), res.Head)
		}
		checkBatch(t, s, p)
		n += k
	}
}

// Several batches in one transaction, a batch spanning several appends,
// and an empty batch.
func TestBatchProofsInOneTx(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, benchBatch(0, 13)...)
	var ps []*BatchProofs
	_, err := s.Update(func(tx *Tx) error {
		if tx.EndBatch() != nil {
			return errors.New("a batch that was not begun has proofs")
		}
		for b, appends := range [][]int{{1, 4, 2}, {}, {9}, {1, 1, 1, 1, 30}} {
			tx.BeginBatch()
			for _, k := range appends {
				if _, err := tx.Append(AppendOptions{Time: t0}, benchBatch(100*b, k)...); err != nil {
					return err
				}
			}
			ps = append(ps, tx.EndBatch())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		checkBatch(t, s, p)
	}
	if p := ps[1]; p.Len() != 0 || p.Size() != 20 {
		t.Fatalf("empty batch: [%d, %d)", p.Begin(), p.Size())
	}
	// An empty ledger's empty batch has the empty root.
	_, err = openTest(t).Update(func(tx *Tx) error {
		tx.BeginBatch()
		if p := tx.EndBatch(); p.Size() != 0 || !bytes.Equal(p.Root(), EmptyRoot()) {
			return errors.New("empty ledger, empty batch")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// proofsAt builds the proofs of a batch of k synthetic leaves after n
// others, in memory (the benchmark's 1M-event tree without a store).
func proofsAt(n, k uint64) *BatchProofs {
	rng := rangeFactory.NewEmptyRange(0)
	leaf := func(i uint64) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
		return h[:]
	}
	for i := uint64(0); i < n; i++ {
		appendLeaf(rng, leaf(i), func(compact.NodeID, []byte) error { return nil })
	}
	rec := newBatchRecorder(rng)
	for i := n; i < n+k; i++ {
		appendLeaf(rng, leaf(i), func(id compact.NodeID, h []byte) error { rec.node(id, h); return nil })
	}
	return rec.finish(rng)
}

// BenchmarkBatchProofInclusion: one inclusion proof of an event of a
// 64-event batch at the end of a 1M-event tree, from memory. The batch's
// proofs themselves cost about two hash copies per event while appending
// and popcount(size) hashes at its end.
func BenchmarkBatchProofInclusion(b *testing.B) {
	p := proofsAt(1<<20-64+5, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Inclusion(p.Begin() + uint64(i%64)); err != nil {
			b.Fatal(err)
		}
	}
}

// Many more sizes and batch boundaries, in memory: every proof verifies
// against the root of the whole tree.
func TestBatchProofsVerify(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for trial := 0; trial < 300; trial++ {
		n, k := uint64(r.Intn(5000)), uint64(1+r.Intn(600))
		if trial < 40 {
			n, k = uint64(trial), uint64(1+trial%7)
		}
		p := proofsAt(n, k)
		if p.Begin() != n || p.Size() != n+k {
			t.Fatalf("[%d, %d)", p.Begin(), p.Size())
		}
		for _, i := range []uint64{n, n + k - 1, n + uint64(r.Int63n(int64(k)))} {
			pr, err := p.Inclusion(i)
			leaf, _ := p.LeafHash(i)
			if err != nil || proof.VerifyInclusion(rfc6962.DefaultHasher, i, n+k, leaf, pr, p.Root()) != nil {
				t.Fatalf("event %d of [%d, %d): %v", i, n, n+k, err)
			}
		}
	}
}
