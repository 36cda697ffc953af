package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/runtime/codec"
)

type legacyAnswer struct {
	Decision string `json:"decision"`
	Index    uint64 `json:"ledger_index"`
}

// putLegacy writes an entry as earlier versions did: key → the whole
// record, sequence → key, and the sequence in meta.
func putLegacy(t *testing.T, db kv.DB, id string, seq uint64, ans legacyAnswer) {
	t.Helper()
	key := requestKey("k_a", id)
	d := sha256.Sum256([]byte(id))
	rec := RequestRecord[legacyAnswer]{Digest: hex.EncodeToString(d[:]), Seq: seq, Result: ans}
	err := db.Update(func(tx kv.Tx) error {
		return errors.Join(tx.Put(bucketRequests, key, codec.MustMarshal(rec)), tx.Put(bucketReqOrder, u64key(seq), key),
			tx.Put(bucketMeta, keyReqSeq, u64key(seq)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A data directory written before the compact table reads unchanged: its
// entries are found, with their whole answers, and forgotten in their
// turn as new entries arrive.
func TestLegacyRequests(t *testing.T) {
	db := kv.NewMem()
	for i, id := range []string{"old-1", "old-2", "old-3"} {
		putLegacy(t, db, id, uint64(i+1), legacyAnswer{Decision: "allow", Index: uint64(10 + i)})
	}
	s := New(db)
	found := func(id string) (RequestEntry, bool) {
		t.Helper()
		var e RequestEntry
		var ok bool
		err := s.Update(func(w *Writer) error {
			var err error
			e, ok, err = w.Request("k_a", id)
			if err != nil {
				return err
			}
			// A read transaction finds the same.
			re, rok, rerr := w.Reader.Request("k_a", id)
			if rerr != nil || rok != ok || re.Seq != e.Seq || !bytes.Equal(re.Legacy, e.Legacy) {
				return fmt.Errorf("reader: %+v %v %v", re, rok, rerr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return e, ok
	}
	e, ok := found("old-2")
	want := sha256.Sum256([]byte("old-2"))
	if !ok || e.Seq != 2 || e.Digest != want || e.Answer != nil {
		t.Fatalf("old-2: %+v %v", e, ok)
	}
	if ans, err := LegacyResult[legacyAnswer](e); err != nil || ans != (legacyAnswer{"allow", 11}) {
		t.Fatalf("old-2 answer %+v %v", ans, err)
	}
	// New entries continue the sequence; with a bound of 3 the first two
	// push out old-1 and old-2, in order.
	for _, id := range []string{"new-1", "new-2"} {
		if err := s.Update(func(w *Writer) error { return w.Remember("k_a", id, sha256.Sum256([]byte(id)), []byte("a"), 3) }); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]uint64{"old-1": 0, "old-2": 0, "old-3": 3, "new-1": 4, "new-2": 5} {
		e, ok := found(id)
		if ok != (want != 0) || e.Seq != want {
			t.Errorf("%s: %+v %v, want seq %d", id, e, ok, want)
		}
	}
	err := db.View(func(r kv.Reader) error {
		if r.Get(bucketRequests, requestKey("k_a", "old-1")) != nil || r.Get(bucketReqOrder, u64key(2)) != nil {
			return errors.New("forgotten legacy entries are still stored")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Two stores over one db: what one commits, the other's index finds (its
// sequence number tells it the table changed).
func TestRequestIndexFollowsOtherWriters(t *testing.T) {
	db := kv.NewMem()
	a, b := New(db), New(db)
	remember := func(s *Store, id string) {
		t.Helper()
		if err := s.Update(func(w *Writer) error { return w.Remember("k_a", id, [32]byte{1}, []byte(id), 100) }); err != nil {
			t.Fatal(err)
		}
	}
	has := func(s *Store, id string) bool {
		t.Helper()
		var ok bool
		if err := s.Update(func(w *Writer) error {
			var err error
			_, ok, err = w.Request("k_a", id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	remember(a, "x")
	if !has(b, "x") || !has(a, "x") {
		t.Fatal("x")
	}
	remember(b, "y")
	if !has(a, "y") {
		t.Fatal("a does not see b's y")
	}
	a.Reset()
	if !has(a, "x") || !has(a, "y") || has(a, "z") {
		t.Fatal("after Reset")
	}
}

// Keys whose fingerprints collide are told apart.
func TestRequestIndexCollisions(t *testing.T) {
	ix := &requestIndex{byFP: map[uint64]uint64{}}
	// Not real collisions: the fingerprint is forced by adding under one.
	ix.add("a", 1)
	ix.spill = map[string]uint64{"b": 2}
	if s, ok := ix.lookup([]byte("b")); !ok || s != 2 {
		t.Fatal("spilled key")
	}
	ix.remove("b", 2)
	if _, ok := ix.spill["b"]; ok {
		t.Fatal("spilled key not removed")
	}
	ix.add("c", 3)
	ix.byFP[fingerprint("d")] = 3 // d's fingerprint now taken
	ix.add("d", 4)
	if s, ok := ix.lookup([]byte("d")); !ok || s != 4 {
		t.Fatalf("colliding key: %d %v", s, ok)
	}
}

func TestRequestEntryRoundTrip(t *testing.T) {
	d := sha256.Sum256([]byte("x"))
	raw := encodeEntry([]byte("k_a/r1"), &d, []byte{1, 2, 3})
	key, e, err := decodeEntry(9, raw)
	if err != nil || string(key) != "k_a/r1" || e.Digest != d || !bytes.Equal(e.Answer, []byte{1, 2, 3}) || e.Seq != 9 {
		t.Fatalf("%q %+v %v", key, e, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0}, {1, 5, 'a'}, append([]byte{1, 1, 'a'}, make([]byte, 31)...)} {
		if _, _, err := decodeEntry(1, bad); !errors.Is(err, ErrBadRequestEntry) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

// FuzzRequestEntry: a stored entry (bytes from the file) never panics the
// decoder, and what decodes re-encodes to the same bytes.
func FuzzRequestEntry(f *testing.F) {
	d := sha256.Sum256([]byte("x"))
	f.Add(encodeEntry([]byte("k_a/r1"), &d, []byte{5, 0}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, raw []byte) {
		key, e, err := decodeEntry(1, raw)
		if err != nil {
			return
		}
		if again := encodeEntry(key, &e.Digest, e.Answer); !bytes.Equal(again, raw) {
			t.Fatalf("%x re-encodes as %x", raw, again)
		}
	})
}
