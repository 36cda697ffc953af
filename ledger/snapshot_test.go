package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

var fsmBucket = []byte("test")

// A snapshot restores the exact ledger and the caller's own buckets,
// replacing whatever the target held.
func TestSnapshotRestore(t *testing.T) {
	src := openTest(t)
	fillLedger(t, src, 12)
	_, err := src.AppendBatch([]event.Event{decision("a", "t", "user.read", policy.Allow, "")}, AppendOptions{Time: t0 + 100, RaftIndex: 9},
		func(tx *Tx) error {
			k, err := tx.KV("fsm.")
			if err != nil {
				return err
			}
			return k.Put(fsmBucket, []byte("counter"), []byte("42"))
		})
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if _, err := src.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t)
	mustAppend(t, dst, AppendOptions{Time: t0}, decision("other", "t", "user.read", policy.Deny, "x"))
	if err := dst.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := dst.Head(), src.Head(); got.Size != want.Size || !bytes.Equal(got.Root, want.Root) || got.AppliedIndex != 9 {
		t.Fatalf("restored head %+v, want %+v", got, want)
	}
	fsmKV, err := dst.KV("fsm.")
	if err != nil {
		t.Fatal(err)
	}
	fsmKV.View(func(r kv.Reader) error {
		if v := r.Get(fsmBucket, []byte("counter")); string(v) != "42" {
			t.Errorf("fsm state %q", v)
		}
		return nil
	})
	verifyOK(t, dst)
	// The restored store keeps working.
	mustAppend(t, dst, AppendOptions{Time: t0 + 200, RaftIndex: 10}, decision("a", "t", "user.read", policy.Allow, ""))
}

func TestRestoreGarbageLeavesStore(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 5)
	before := s.Head()
	if err := s.Restore(bytes.NewReader([]byte("not a bbolt file at all"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v", err)
	}
	if h := s.Head(); h.Size != before.Size || !bytes.Equal(h.Root, before.Root) {
		t.Fatalf("head changed: %+v", h)
	}
	mustAppend(t, s, AppendOptions{Time: t0 + 50}, decision("a", "t", "user.read", policy.Allow, ""))
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(s.Path()), "*.restore-*"))
	if len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
}

// The roots and tiles a store remembers are of its ledger: after a
// restore, the restored ledger's roots and proofs are served, not the
// ones of the ledger it replaced (at the same sizes).
func TestRootsAfterRestore(t *testing.T) {
	a, b := openTest(t), openTest(t)
	const n = 3000 // complete upper tiles (1024 events each) to remember
	mustAppend(t, a, AppendOptions{Time: t0}, benchBatch(0, n)...)
	mustAppend(t, b, AppendOptions{Time: t0}, benchBatch(100, n)...)
	sizes := []uint64{1, 2, 9, 1023, 1024, 1025, 2048, 2999, n}
	for _, size := range sizes { // remembered
		if _, err := a.Root(size); err != nil {
			t.Fatal(err)
		}
		if _, err := a.InclusionProof(0, size); err != nil {
			t.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if _, err := b.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	if err := a.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	for _, size := range sizes {
		got, _ := a.Root(size)
		want, _ := b.Root(size)
		for _, i := range []uint64{0, size / 2, size - 1} {
			p, err := a.InclusionProof(i, size)
			q, _ := b.InclusionProof(i, size)
			if !bytes.Equal(got, want) || err != nil || !bytes.Equal(p.Root, want) || fmt.Sprint(p.Proof) != fmt.Sprint(q.Proof) {
				t.Fatalf("size %d, event %d: root %x, the restored ledger's %x (%v)", size, i, got, want, err)
			}
		}
	}
}
