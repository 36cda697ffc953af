package cluster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestCheckBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	if err := checkBoltFile(path); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		for i := 0; err == nil && i < 2000; i++ {
			err = b.Put([]byte{byte(i), byte(i >> 8)}, bytes.Repeat([]byte{1}, 100))
		}
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBoltFile(path); err != nil {
		t.Fatalf("healthy file: %v", err)
	}
	if err := os.Truncate(path, 3*4096); err != nil {
		t.Fatal(err)
	}
	if err := checkBoltFile(path); !errors.Is(err, errTruncated) {
		t.Fatalf("truncated file: %v", err)
	}
	os.WriteFile(path, []byte("not a database at all"), 0o600)
	if err := checkBoltFile(path); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzReadBoltMeta(f *testing.F) {
	f.Add(make([]byte, 80))
	f.Add(bytes.Repeat([]byte{0xed, 0xda, 0x0c, 0xed}, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		readBoltMeta(bytes.NewReader(b), 0)
	})
}
