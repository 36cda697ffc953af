// Package kvtest is the conformance suite of kv.DB: every implementation
// (memory, a bbolt file, the ledger's namespaced view of its file) runs
// RunTests from its own tests.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/cnv-project/cnv/kv"
)

// Opener returns a new, empty DB for one test. For a persistent
// implementation reopen closes the DB and opens the same data again,
// returning the reopened DB; it is nil for one that keeps nothing.
type Opener func(t *testing.T) (db kv.DB, reopen func() kv.DB)

// RunTests runs the conformance suite against the DBs open returns.
func RunTests(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, db kv.DB, reopen func() kv.DB)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"EmptyValue", testEmptyValue},
		{"BucketsAreSeparate", testBucketsSeparate},
		{"ForEachOrder", testForEachOrder},
		{"ForEachStops", testForEachStops},
		{"ReadYourWrites", testReadYourWrites},
		{"CommitIsAtomic", testCommitAtomic},
		{"RollbackOnError", testRollback},
		{"ReaderIsolation", testReaderIsolation},
		{"InvalidKeys", testInvalidKeys},
		{"WriteAfterEnd", testWriteAfterEnd},
		{"ManyKeys", testManyKeys},
		{"Append", testAppend},
		{"AbsentThenCreated", testAbsentThenCreated},
		{"OnCommit", testOnCommit},
		{"Reopen", testReopen},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, reopen := open(t)
			c.fn(t, db, reopen)
		})
	}
}

var (
	bA = []byte("a")
	bB = []byte("b")
)

func update(t *testing.T, db kv.DB, fn func(tx kv.Tx) error) {
	t.Helper()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// get reads one value in its own View; ok is false when absent.
func get(t *testing.T, db kv.DB, bucket []byte, key string) (string, bool) {
	t.Helper()
	var v []byte
	if err := db.View(func(r kv.Reader) error {
		if raw := r.Get(bucket, []byte(key)); raw != nil {
			v = append([]byte{}, raw...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return string(v), v != nil
}

// dump lists a bucket as "k=v" in iteration order.
func dump(t *testing.T, db kv.DB, bucket []byte) []string {
	t.Helper()
	var out []string
	if err := db.View(func(r kv.Reader) error { out = dumpR(r, bucket); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func dumpR(r kv.Reader, bucket []byte) []string {
	out := []string{}
	r.ForEach(bucket, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%x=%s", k, v))
		return nil
	})
	return out
}

func put(tx kv.Tx, bucket []byte, kvs ...string) error {
	for i := 0; i+1 < len(kvs); i += 2 {
		if err := tx.Put(bucket, []byte(kvs[i]), []byte(kvs[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func want(t *testing.T, db kv.DB, bucket []byte, key, value string, present bool) {
	t.Helper()
	if v, ok := get(t, db, bucket, key); ok != present || v != value {
		t.Fatalf("%s/%s = %q (present %v), want %q (present %v)", bucket, key, v, ok, value, present)
	}
}

func testGetPutDelete(t *testing.T, db kv.DB, _ func() kv.DB) {
	want(t, db, bA, "k", "", false) // absent bucket
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "k", "1", "l", "2") })
	want(t, db, bA, "k", "1", true)
	want(t, db, bA, "x", "", false) // absent key in a present bucket
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "k", "3") })
	want(t, db, bA, "k", "3", true)
	update(t, db, func(tx kv.Tx) error {
		return errors.Join(tx.Delete(bA, []byte("k")), tx.Delete(bA, []byte("nope")), tx.Delete([]byte("nobucket"), []byte("k")))
	})
	want(t, db, bA, "k", "", false)
	want(t, db, bA, "l", "2", true)
}

func testEmptyValue(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		if err := errors.Join(tx.Put(bA, []byte("empty"), []byte{}), tx.Put(bA, []byte("nil"), nil)); err != nil {
			return err
		}
		for _, k := range []string{"empty", "nil"} {
			if v := tx.Get(bA, []byte(k)); v == nil || len(v) != 0 {
				return fmt.Errorf("in the tx, %s reads %v, want a non-nil empty value", k, v)
			}
		}
		return nil
	})
	for _, k := range []string{"empty", "nil"} {
		want(t, db, bA, k, "", true)
	}
}

func testBucketsSeparate(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return errors.Join(put(tx, bA, "k", "a"), put(tx, bB, "k", "b")) })
	want(t, db, bA, "k", "a", true)
	want(t, db, bB, "k", "b", true)
	update(t, db, func(tx kv.Tx) error { return tx.Delete(bA, []byte("k")) })
	want(t, db, bB, "k", "b", true)
	// A bucket named like another's prefix is another bucket.
	update(t, db, func(tx kv.Tx) error { return put(tx, []byte("b.x"), "k", "bx") })
	if got := dump(t, db, bB); fmt.Sprint(got) != "[6b=b]" {
		t.Fatalf("bucket b: %v", got)
	}
}

// keysInOrder are distinct keys in byte order, including binary ones and
// prefixes of each other.
var keysInOrder = []string{"\x00", "\x00\x00", "\x01", "A", "a", "a\x00", "a\x00\x01", "aa", "ab", "b", "\x7f", "\x80", "\xfe\xff", "\xff", "\xff\xff"}

func testForEachOrder(t *testing.T, db kv.DB, _ func() kv.DB) {
	if got := dump(t, db, bA); len(got) != 0 {
		t.Fatalf("absent bucket iterates %v", got)
	}
	shuffled := append([]string(nil), keysInOrder...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, db, func(tx kv.Tx) error {
		for _, k := range shuffled {
			if err := tx.Put(bA, []byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	db.View(func(r kv.Reader) error {
		return r.ForEach(bA, func(k, v []byte) error {
			if string(v) != "v"+string(k) {
				t.Errorf("key %x has value %q", k, v)
			}
			got = append(got, string(k))
			return nil
		})
	})
	if !sort.SliceIsSorted(keysInOrder, func(i, j int) bool { return keysInOrder[i] < keysInOrder[j] }) {
		t.Fatal("keysInOrder is not in order")
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", keysInOrder) {
		t.Fatalf("order %q, want %q", got, keysInOrder)
	}
}

func testForEachStops(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "1", "x", "2", "x", "3", "x") })
	stop := errors.New("stop")
	var seen []string
	err := db.View(func(r kv.Reader) error {
		return r.ForEach(bA, func(k, _ []byte) error {
			seen = append(seen, string(k))
			if string(k) == "2" {
				return stop
			}
			return nil
		})
	})
	if !errors.Is(err, stop) || fmt.Sprint(seen) != "[1 2]" {
		t.Fatalf("err %v, saw %v", err, seen)
	}
}

func testReadYourWrites(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "a", "1", "c", "3") })
	update(t, db, func(tx kv.Tx) error {
		if err := errors.Join(put(tx, bA, "b", "2", "a", "10"), tx.Delete(bA, []byte("c")), put(tx, bB, "n", "new")); err != nil {
			return err
		}
		if v := tx.Get(bA, []byte("a")); string(v) != "10" {
			return fmt.Errorf("a reads %q in the tx", v)
		}
		if v := tx.Get(bA, []byte("c")); v != nil {
			return fmt.Errorf("deleted c reads %q in the tx", v)
		}
		if got := fmt.Sprint(dumpR(tx, bA)); got != "[61=10 62=2]" {
			return fmt.Errorf("in the tx, a iterates %s", got)
		}
		if got := fmt.Sprint(dumpR(tx, bB)); got != "[6e=new]" {
			return fmt.Errorf("in the tx, new bucket b iterates %s", got)
		}
		return nil
	})
	if got := fmt.Sprint(dump(t, db, bA)); got != "[61=10 62=2]" {
		t.Fatalf("after commit: %s", got)
	}
}

func testCommitAtomic(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "x", "0", "y", "0") })
	update(t, db, func(tx kv.Tx) error {
		return errors.Join(put(tx, bA, "x", "1"), tx.Delete(bA, []byte("y")), put(tx, bB, "z", "1"))
	})
	want(t, db, bA, "x", "1", true)
	want(t, db, bA, "y", "", false)
	want(t, db, bB, "z", "1", true)
}

func testRollback(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "x", "0", "y", "0") })
	boom := errors.New("boom")
	err := db.Update(func(tx kv.Tx) error {
		if err := errors.Join(put(tx, bA, "x", "1", "new", "1"), tx.Delete(bA, []byte("y")), put(tx, []byte("fresh"), "k", "v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if got := fmt.Sprint(dump(t, db, bA)); got != "[78=0 79=0]" {
		t.Fatalf("after rollback: %s", got)
	}
	if got := dump(t, db, []byte("fresh")); len(got) != 0 {
		t.Fatalf("bucket created by a rolled-back tx holds %v", got)
	}
	// The DB still works.
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "x", "2") })
	want(t, db, bA, "x", "2", true)
}

// A reader never sees a writer's uncommitted writes, and a reader that
// starts after the commit sees all of them.
func testReaderIsolation(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "x", "0") })
	written, read := make(chan struct{}), make(chan string)
	go func() {
		<-written
		var v string
		db.View(func(r kv.Reader) error {
			v = string(r.Get(bA, []byte("x"))) + fmt.Sprint(len(dumpR(r, bA)))
			return nil
		})
		read <- v
	}()
	update(t, db, func(tx kv.Tx) error {
		if err := put(tx, bA, "x", "1", "y", "1"); err != nil {
			return err
		}
		close(written)
		if v := <-read; v != "01" {
			return fmt.Errorf("a concurrent reader saw %q, want the committed x=0 alone", v)
		}
		return nil
	})
	if got := fmt.Sprint(dump(t, db, bA)); got != "[78=1 79=1]" {
		t.Fatalf("after commit: %s", got)
	}
}

func testInvalidKeys(t *testing.T, db kv.DB, _ func() kv.DB) {
	long := bytes.Repeat([]byte{'k'}, kv.MaxKeySize+1)
	for _, c := range []struct {
		name        string
		bucket, key []byte
	}{
		{"empty key", bA, nil},
		{"empty bucket", nil, []byte("k")},
		{"long key", bA, long},
		{"long bucket", long, []byte("k")},
	} {
		err := db.Update(func(tx kv.Tx) error { return tx.Put(c.bucket, c.key, []byte("v")) })
		if !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Put with %s: %v, want ErrInvalidKey", c.name, err)
		}
		err = db.Update(func(tx kv.Tx) error { return tx.Delete(c.bucket, c.key) })
		if !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Delete with %s: %v, want ErrInvalidKey", c.name, err)
		}
	}
	max := bytes.Repeat([]byte{'k'}, kv.MaxKeySize)
	update(t, db, func(tx kv.Tx) error { return tx.Put(bA, max, []byte("v")) })
	if v, _ := get(t, db, bA, string(max)); v != "v" {
		t.Fatal("longest key lost")
	}
}

func testWriteAfterEnd(t *testing.T, db kv.DB, _ func() kv.DB) {
	var kept kv.Tx
	update(t, db, func(tx kv.Tx) error { kept = tx; return put(tx, bA, "x", "1") })
	if err := kept.Put(bA, []byte("y"), []byte("1")); !errors.Is(err, kv.ErrTxDone) {
		t.Errorf("Put after the tx: %v, want ErrTxDone", err)
	}
	if err := kept.Delete(bA, []byte("x")); !errors.Is(err, kv.ErrTxDone) {
		t.Errorf("Delete after the tx: %v, want ErrTxDone", err)
	}
	want(t, db, bA, "x", "1", true)
	want(t, db, bA, "y", "", false)
}

func testManyKeys(t *testing.T, db kv.DB, _ func() kv.DB) {
	const n = 2000
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
	update(t, db, func(tx kv.Tx) error {
		for _, i := range rand.New(rand.NewSource(2)).Perm(n) {
			if err := tx.Put(bA, key(i), key(i)); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		for i := 0; i < n; i += 2 {
			if err := tx.Delete(bA, key(i)); err != nil {
				return err
			}
		}
		return nil
	})
	i := 1
	err := db.View(func(r kv.Reader) error {
		return r.ForEach(bA, func(k, v []byte) error {
			if !bytes.Equal(k, key(i)) || !bytes.Equal(v, key(i)) {
				return fmt.Errorf("got %s=%s, want %s", k, v, key(i))
			}
			i += 2
			return nil
		})
	})
	if err != nil || i != n+1 {
		t.Fatalf("%v (stopped at %d)", err, i)
	}
}

func testReopen(t *testing.T, db kv.DB, reopen func() kv.DB) {
	if reopen == nil {
		t.Skip("not persistent")
	}
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "x", "1", "y", "2") })
	update(t, db, func(tx kv.Tx) error { return tx.Delete(bA, []byte("y")) })
	db.Update(func(tx kv.Tx) error { put(tx, bA, "z", "rolled back"); return errors.New("no") })
	db = reopen()
	if got := fmt.Sprint(dump(t, db, bA)); got != "[78=1]" {
		t.Fatalf("after reopen: %s", got)
	}
	update(t, db, func(tx kv.Tx) error { return put(tx, bA, "w", "3") })
	db = reopen()
	if got := fmt.Sprint(dump(t, db, bA)); got != "[77=3 78=1]" {
		t.Fatalf("after a second reopen: %s", got)
	}
}

// Append writes keys in ascending order and refuses one that is not above
// the bucket's last key.
func testAppend(t *testing.T, db kv.DB, _ func() kv.DB) {
	const n = 2000
	key := func(i int) []byte { return []byte(fmt.Sprintf("%08d", i)) }
	update(t, db, func(tx kv.Tx) error {
		for i := 0; i < n/2; i++ {
			if err := tx.Append(bA, key(i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		if err := tx.Delete(bA, key(0)); err != nil {
			return err
		}
		for i := n / 2; i < n; i++ {
			if err := tx.Append(bA, key(i), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return nil
	})
	for _, k := range [][]byte{key(n - 1), key(5), []byte("0")} {
		err := db.Update(func(tx kv.Tx) error { return tx.Append(bA, k, []byte("x")) })
		if !errors.Is(err, kv.ErrNotAppend) {
			t.Errorf("append %s: %v, want ErrNotAppend", k, err)
		}
	}
	got := dump(t, db, bA)
	if len(got) != n-1 || got[len(got)-1] != fmt.Sprintf("%x=%d", key(n-1), n-1) {
		t.Fatalf("%d keys, last %v", len(got), got[len(got)-1:])
	}
	update(t, db, func(tx kv.Tx) error { return tx.Append(bB, []byte("first"), nil) })
	want(t, db, bB, "first", "", true)
	// Puts and deletes in the same transaction move the bucket's end.
	c := []byte("c")
	update(t, db, func(tx kv.Tx) error {
		return errors.Join(tx.Append(c, []byte("k5"), []byte("k5")), tx.Put(c, []byte("k9"), []byte("k9")),
			tx.Put(c, []byte("k3"), []byte("k3")), tx.Delete(c, []byte("k9")), tx.Append(c, []byte("k8"), []byte("k8")))
	})
	for _, setup := range []func(tx kv.Tx) error{
		func(tx kv.Tx) error { return tx.Append(c, []byte("k6"), nil) },
		func(tx kv.Tx) error {
			if err := tx.Put(c, []byte("k99"), nil); err != nil {
				return err
			}
			return tx.Append(c, []byte("k90"), nil)
		},
	} {
		if err := db.Update(setup); !errors.Is(err, kv.ErrNotAppend) {
			t.Errorf("append below the end: %v", err)
		}
	}
	if got := fmt.Sprint(dump(t, db, c)); got != "[6b33=k3 6b35=k5 6b38=k8]" {
		t.Fatalf("c holds %s", got)
	}
}

// A bucket read while absent and created later in the same transaction
// is seen.
func testAbsentThenCreated(t *testing.T, db kv.DB, _ func() kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		if tx.Get([]byte("late"), []byte("k")) != nil || tx.Delete([]byte("late"), []byte("k")) != nil {
			return errors.New("absent bucket")
		}
		if err := tx.Put([]byte("late"), []byte("k"), []byte("v")); err != nil {
			return err
		}
		if v := tx.Get([]byte("late"), []byte("k")); string(v) != "v" {
			return fmt.Errorf("created bucket reads %q", v)
		}
		return nil
	})
	want(t, db, []byte("late"), "k", "v", true)
}

// OnCommit functions run, in order, after a commit and never after a
// rollback.
func testOnCommit(t *testing.T, db kv.DB, _ func() kv.DB) {
	var ran []string
	update(t, db, func(tx kv.Tx) error {
		tx.OnCommit(func() { ran = append(ran, "a") })
		tx.OnCommit(func() { ran = append(ran, "b") })
		if len(ran) != 0 {
			return errors.New("ran before the commit")
		}
		return put(tx, bA, "x", "1")
	})
	db.Update(func(tx kv.Tx) error {
		tx.OnCommit(func() { ran = append(ran, "rolled back") })
		return errors.New("no")
	})
	if got := fmt.Sprint(ran); got != "[a b]" {
		t.Fatalf("ran %s, want [a b]", got)
	}
}
