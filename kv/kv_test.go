package kv_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/kv/kvtest"
)

func TestMem(t *testing.T) {
	kvtest.RunTests(t, func(t *testing.T) (kv.DB, func() kv.DB) { return kv.NewMem(), nil })
}

func TestBolt(t *testing.T) {
	kvtest.RunTests(t, func(t *testing.T) (kv.DB, func() kv.DB) {
		path := filepath.Join(t.TempDir(), "kv.db")
		open := func() *kv.BoltDB {
			db, err := kv.OpenBolt(path, &bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
		db := open()
		t.Cleanup(func() { db.Close() })
		return db, func() kv.DB {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = open()
			return db
		}
	})
}

// A prefixed view sees only its own buckets of the bbolt transaction.
func TestOnBoltPrefix(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if err := kv.OnBolt(tx, "one.").Put([]byte("b"), []byte("k"), []byte("1")); err != nil {
			return err
		}
		if err := kv.OnBolt(tx, "two.").Put([]byte("b"), []byte("k"), []byte("2")); err != nil {
			return err
		}
		if v := kv.OnBolt(tx, "one.").Get([]byte("b"), []byte("k")); string(v) != "1" {
			t.Errorf("one.b/k = %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		for name, want := range map[string]string{"one.b": "1", "two.b": "2"} {
			if b := tx.Bucket([]byte(name)); b == nil || string(b.Get([]byte("k"))) != want {
				t.Errorf("bbolt bucket %s missing or wrong", name)
			}
		}
		if tx.Bucket([]byte("b")) != nil {
			t.Error("unprefixed bucket created")
		}
		return nil
	})
}
