package kv

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// BoltTx is a Tx over the top-level buckets of a bbolt transaction whose
// names start with a prefix: bucket "x" is bbolt bucket prefix+"x". Over a
// read-only bbolt transaction its writes fail.
type BoltTx struct {
	tx      *bolt.Tx
	prefix  string
	buckets map[string]*bolt.Bucket
}

// OnBolt returns the buckets named prefix+name of tx as a Tx, valid while
// tx is. Its writes are committed or rolled back with tx.
func OnBolt(tx *bolt.Tx, prefix string) *BoltTx {
	return &BoltTx{tx: tx, prefix: prefix, buckets: map[string]*bolt.Bucket{}}
}

// bucket returns the bbolt bucket of name, creating it when create is set
// (nil when absent and not created).
func (t *BoltTx) bucket(name []byte, create bool) (*bolt.Bucket, error) {
	if b := t.buckets[string(name)]; b != nil {
		return b, nil
	}
	full := append([]byte(t.prefix), name...)
	b := t.tx.Bucket(full)
	if b == nil && create {
		if t.tx.DB() == nil {
			return nil, ErrTxDone
		}
		var err error
		if b, err = t.tx.CreateBucket(full); err != nil {
			return nil, fmt.Errorf("kv: create bucket %s: %w", full, err)
		}
	}
	if b != nil {
		t.buckets[string(name)] = b
	}
	return b, nil
}

// Get implements Reader.
func (t *BoltTx) Get(bucket, key []byte) []byte {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

// ForEach implements Reader.
func (t *BoltTx) ForEach(bucket []byte, fn func(k, v []byte) error) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	return b.ForEach(fn)
}

// Put implements Tx.
func (t *BoltTx) Put(bucket, key, value []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	b, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // bbolt reads a nil value back as absent until commit
	}
	if err := b.Put(key, value); err != nil {
		return boltErr(err)
	}
	return nil
}

// Append implements Tx. The bucket's fill percent becomes 1 for the rest
// of the transaction, as for the ledger's own append-only buckets.
func (t *BoltTx) Append(bucket, key, value []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	b, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	if last, _ := b.Cursor().Last(); last != nil && bytes.Compare(key, last) <= 0 {
		return fmt.Errorf("%w: %x after %x in %s%s", ErrNotAppend, key, last, t.prefix, bucket)
	}
	b.FillPercent = 1
	if value == nil {
		value = []byte{}
	}
	if err := b.Put(key, value); err != nil {
		return boltErr(err)
	}
	return nil
}

// OnCommit implements Tx (bbolt's Tx.OnCommit).
func (t *BoltTx) OnCommit(fn func()) { t.tx.OnCommit(fn) }

// Delete implements Tx.
func (t *BoltTx) Delete(bucket, key []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	b, err := t.bucket(bucket, false)
	if b == nil || err != nil {
		if t.tx.DB() == nil {
			return ErrTxDone
		}
		return err
	}
	return boltErr(b.Delete(key))
}

func boltErr(err error) error {
	if errors.Is(err, bolt.ErrTxClosed) {
		return ErrTxDone
	}
	return err
}

// BoltDB is a DB over a bbolt file of its own, its buckets named as given
// (no prefix).
type BoltDB struct{ db *bolt.DB }

var _ DB = (*BoltDB)(nil)

// OpenBolt opens (creating when needed) the bbolt file at path.
func OpenBolt(path string, opts *bolt.Options) (*BoltDB, error) {
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	return &BoltDB{db: db}, nil
}

// View implements DB.
func (d *BoltDB) View(fn func(Reader) error) error {
	return d.db.View(func(tx *bolt.Tx) error { return fn(OnBolt(tx, "")) })
}

// Update implements DB.
func (d *BoltDB) Update(fn func(Tx) error) error {
	return d.db.Update(func(tx *bolt.Tx) error { return fn(OnBolt(tx, "")) })
}

// Close closes the file.
func (d *BoltDB) Close() error { return d.db.Close() }

// Path is the file's path.
func (d *BoltDB) Path() string { return d.db.Path() }
