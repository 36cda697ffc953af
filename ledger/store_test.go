package ledger

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/event"
)

func TestEveryTypeRoundTrips(t *testing.T) {
	s := openTest(t)
	evs := sampleEvents()
	if len(evs) != len(event.Types()) {
		t.Fatalf("sampleEvents has %d types, Types() %d", len(evs), len(event.Types()))
	}
	res := mustAppend(t, s, AppendOptions{Time: t0, RaftIndex: 7}, evs...)
	for i, a := range res.Events {
		got, err := s.Event(a.Index)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type() != evs[i].Type() || got.Index != uint64(i) || got.RaftIndex != 7 || got.Time != t0 {
			t.Fatalf("event %d: %+v", i, got)
		}
		b, _ := got.MarshalCanonical()
		if !bytes.Equal(LeafHash(b), a.LeafHash) {
			t.Fatalf("event %d: leaf hash of the decoded event differs", i)
		}
	}
}

func TestNewLedgerIsEmpty(t *testing.T) {
	s := openTest(t)
	h := s.Head()
	if h.Size != 0 || !bytes.Equal(h.Root, EmptyRoot()) {
		t.Fatalf("%+v", h)
	}
	// RFC 6962: the empty tree's hash is SHA-256 of the empty string.
	if h.Root.String() != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %s", h.Root)
	}
}

func TestReopenContinuesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", "allow", ""), decision("b", "t", "user.read", "deny", "no"))
	before := s.Head()
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := s.Head(); h.Size != 2 || !bytes.Equal(h.Root, before.Root) || h.LastTime != t0 {
		t.Fatalf("after reopen %+v, before %+v", h, before)
	}
	res := mustAppend(t, s, AppendOptions{Time: t0 + 1}, decision("c", "t", "user.read", "allow", ""))
	if res.Events[0].Index != 2 {
		t.Fatalf("index after reopen %d, want 2", res.Events[0].Index)
	}
}

func TestInvalidBatchChangesNothing(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", "allow", ""))
	before := s.Head()
	bad := decision("b", "t", "user.read", "maybe", "")
	_, err := s.AppendBatch([]event.Event{decision("c", "t", "user.read", "allow", ""), bad}, AppendOptions{Time: t0}, nil)
	if !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("err %v", err)
	}
	if h := s.Head(); h.Size != before.Size || !bytes.Equal(h.Root, before.Root) {
		t.Fatalf("head moved: %+v", h)
	}
	if n, _ := s.Count(Query{}); n != 1 {
		t.Fatalf("count %d", n)
	}
	// An error from the caller's own part of the transaction rolls back too.
	boom := errors.New("boom")
	_, err = s.AppendBatch([]event.Event{decision("c", "t", "user.read", "allow", "")}, AppendOptions{Time: t0}, func(*Tx) error { return boom })
	if !errors.Is(err, boom) || s.Head().Size != 1 {
		t.Fatalf("err %v size %d", err, s.Head().Size)
	}
}

func TestIgnoredAppendErrorStillRollsBack(t *testing.T) {
	s := openTest(t)
	_, err := s.Update(func(tx *Tx) error {
		tx.Append(AppendOptions{}, event.Event{Actor: "a"}) // no payload: fails, error ignored
		return nil
	})
	if !errors.Is(err, event.ErrInvalidEvent) || s.Head().Size != 0 {
		t.Fatalf("err %v size %d", err, s.Head().Size)
	}
}

func TestAppliedIndex(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0, RaftIndex: 5}, decision("a", "t", "user.read", "allow", ""))
	if s.AppliedIndex() != 5 {
		t.Fatalf("applied %d", s.AppliedIndex())
	}
	_, err := s.AppendBatch([]event.Event{decision("a", "t", "user.read", "allow", "")}, AppendOptions{Time: t0, RaftIndex: 5}, nil)
	if !errors.Is(err, ErrAlreadyApplied) || s.Head().Size != 1 {
		t.Fatalf("reapplied: %v", err)
	}
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	s := openTest(t)
	res := mustAppend(t, s, AppendOptions{},
		at(decision("a", "t", "user.read", "allow", ""), t0+10),
		at(decision("a", "t", "user.read", "allow", ""), t0+5))
	if res.Events[1].Time != t0+10 {
		t.Fatalf("second time %d, want raised to %d", res.Events[1].Time, t0+10)
	}
}

// Proofs from the store verify with transparency-dev's verifier, for every
// index and size of a small tree and consistency between every two sizes.
func TestProofsVerify(t *testing.T) {
	s := openTest(t)
	var roots [][]byte
	roots = append(roots, s.Head().Root)
	var leaves [][]byte
	for i := 0; i < 33; i++ {
		res := mustAppend(t, s, AppendOptions{Time: t0 + int64(i)}, decision("a", "t", "user.read", "allow", ""))
		roots = append(roots, res.Head.Root)
		leaves = append(leaves, res.Events[0].LeafHash)
	}
	h := rfc6962.DefaultHasher
	for size := uint64(1); size <= 33; size++ {
		for idx := uint64(0); idx < size; idx++ {
			p, err := s.InclusionProof(idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Root, roots[size]) || !bytes.Equal(p.LeafHash, leaves[idx]) {
				t.Fatalf("inclusion %d/%d: root or leaf differs", idx, size)
			}
			if err := proof.VerifyInclusion(h, idx, size, p.LeafHash, Bytes(p.Proof), roots[size]); err != nil {
				t.Fatalf("inclusion %d/%d: %v", idx, size, err)
			}
		}
		for from := uint64(0); from <= size; from++ {
			c, err := s.ConsistencyProof(from, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(h, from, size, Bytes(c.Proof), roots[from], roots[size]); err != nil {
				t.Fatalf("consistency %d->%d: %v", from, size, err)
			}
		}
	}
	if _, err := s.InclusionProof(33, 33); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("out of range: %v", err)
	}
	if _, err := s.ConsistencyProof(5, 34); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("out of range: %v", err)
	}
}

// A file with no ledger in it (a fresh file, or one holding only another
// component's buckets) reads as an empty ledger.
func TestReadOnlyEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Verify(VerifyOptions{Structure: true}); err != nil || !rep.OK || rep.Size != 0 {
		t.Fatalf("verify %v %+v", err, rep)
	}
	if p, err := s.ConsistencyProof(0, 0); err != nil || len(p.Proof) != 0 {
		t.Fatalf("consistency %v", err)
	}
	if p, err := s.Query(Query{Actor: "a"}); err != nil || len(p.Events) != 0 {
		t.Fatalf("query %v", err)
	}
	if cps, err := s.Checkpoints(); err != nil || len(cps) != 0 {
		t.Fatalf("checkpoints %v", err)
	}
	var buf bytes.Buffer
	if n, err := s.Export(&buf, 0, 0); err != nil || n != 0 {
		t.Fatalf("export %v", err)
	}
	if _, err := s.AppendBatch([]event.Event{decision("a", "t", "user.read", "allow", "")}, AppendOptions{}, nil); err == nil {
		t.Fatal("append on a read-only store")
	}
}

func TestMissingBucketIsCorrupt(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", "allow", ""))
	if _, err := s.Update(func(tx *Tx) error { return tx.btx.DeleteBucket(indexDefs[idxActor].bucket) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(Query{Actor: "a"}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v", err)
	}
}
