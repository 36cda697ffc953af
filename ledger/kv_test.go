package ledger

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/kv/kvtest"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

// A namespace of the ledger's file is a kv.DB like any other.
func TestKVConformance(t *testing.T) {
	kvtest.RunTests(t, func(t *testing.T) (kv.DB, func() kv.DB) {
		path := filepath.Join(t.TempDir(), "state.db")
		var s *Store
		open := func() kv.DB {
			var err error
			if s, err = Open(path, Options{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			db, err := s.KV("test.")
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
		db := open()
		t.Cleanup(func() { s.Close() })
		return db, func() kv.DB {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open()
		}
	})
}

func TestKVNamespaces(t *testing.T) {
	s := openTest(t)
	for _, ns := range []string{"", ".", "fsm", "ledger.", "ledger.x.", "ledger.meta"} {
		if _, err := s.KV(ns); !errors.Is(err, ErrNamespace) {
			t.Errorf("namespace %q: %v, want ErrNamespace", ns, err)
		}
		if _, err := s.Update(func(tx *Tx) error { _, err := tx.KV(ns); return err }); !errors.Is(err, ErrNamespace) {
			t.Errorf("namespace %q in a Tx: %v, want ErrNamespace", ns, err)
		}
	}
	// Bucket "meta" of namespace "fsm." is bbolt bucket "fsm.meta", not
	// the ledger's "ledger.meta".
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""))
	_, err := s.Update(func(tx *Tx) error {
		k, err := tx.KV("fsm.")
		if err != nil {
			return err
		}
		return k.Put([]byte("meta"), []byte("size"), []byte("x"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.boltView(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("fsm.meta")).Get([]byte("size")); string(v) != "x" {
			t.Errorf("fsm.meta/size = %q", v)
		}
		return nil
	})
	verifyOK(t, s)
	if h := s.Head(); h.Size != 1 {
		t.Fatalf("head %+v", h)
	}
}

// The caller's writes and the ledger's commit or roll back together: a
// failed append undoes the caller's writes, a failed caller write (even
// ignored) undoes the append.
func TestKVCommitsWithTheLedger(t *testing.T) {
	s := openTest(t)
	db, _ := s.KV("fsm.")
	read := func() string {
		var v string
		db.View(func(r kv.Reader) error { v = string(r.Get([]byte("b"), []byte("k"))); return nil })
		return v
	}
	_, err := s.AppendBatch([]event.Event{decision("a", "t", "user.read", policy.Allow, "")}, AppendOptions{Time: t0, RaftIndex: 3},
		func(tx *Tx) error {
			k, err := tx.KV("fsm.")
			if err != nil {
				return err
			}
			return k.Put([]byte("b"), []byte("k"), []byte("1"))
		})
	if err != nil || read() != "1" || s.Head().Size != 1 || s.AppliedIndex() != 3 {
		t.Fatalf("commit: %v %q %+v", err, read(), s.Head())
	}
	// The append fails (invalid event): the caller's write is rolled back.
	_, err = s.Update(func(tx *Tx) error {
		k, _ := tx.KV("fsm.")
		if err := k.Put([]byte("b"), []byte("k"), []byte("2")); err != nil {
			return err
		}
		tx.Append(AppendOptions{}, event.Event{Actor: "a"}) // error ignored
		return nil
	})
	if !errors.Is(err, event.ErrInvalidEvent) || read() != "1" {
		t.Fatalf("failed append: %v, caller's value %q", err, read())
	}
	// The caller's write fails (error ignored): the append is rolled back.
	_, err = s.Update(func(tx *Tx) error {
		if err := tx.SetAppliedIndex(4); err != nil {
			return err
		}
		tx.Append(AppendOptions{Time: t0}, decision("b", "t", "user.read", policy.Allow, ""))
		k, _ := tx.KV("fsm.")
		k.Put([]byte("b"), nil, []byte("no key"))
		return nil
	})
	if !errors.Is(err, kv.ErrInvalidKey) || s.Head().Size != 1 || s.AppliedIndex() != 3 {
		t.Fatalf("failed caller write: %v, head %+v", err, s.Head())
	}
	if n, _ := s.Count(Query{}); n != 1 {
		t.Fatalf("%d events after rollbacks", n)
	}
}

// Every bucket the ledger creates is in its namespace, so no caller's
// namespace can reach one.
func TestLedgerBucketsAreInItsNamespace(t *testing.T) {
	for _, b := range allBuckets() {
		if !strings.HasPrefix(string(b), ledgerNamespace) {
			t.Errorf("bucket %q is outside %q", b, ledgerNamespace)
		}
	}
}
