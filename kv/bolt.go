package kv

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// BoltTx is a Tx over the top-level buckets of a bbolt transaction whose
// names start with a prefix: bucket "x" is bbolt bucket prefix+"x". Over a
// read-only bbolt transaction its writes fail. A bbolt transaction should
// have one BoltTx per prefix: it remembers which buckets are absent.
type BoltTx struct {
	tx      *bolt.Tx
	prefix  string
	buckets map[string]*boltBucket
}

// boltBucket is a bucket as this transaction has seen it.
type boltBucket struct {
	b *bolt.Bucket // nil: absent
	// last is the bucket's greatest key when known (after an Append or a
	// Put above it), so that appends need no seek.
	last []byte
}

// OnBolt returns the buckets named prefix+name of tx as a Tx, valid while
// tx is. Its writes are committed or rolled back with tx.
func OnBolt(tx *bolt.Tx, prefix string) *BoltTx {
	return &BoltTx{tx: tx, prefix: prefix, buckets: map[string]*boltBucket{}}
}

// bucket returns the bucket of name, creating it when create is set (nil
// when absent and not created).
func (t *BoltTx) bucket(name []byte, create bool) (*boltBucket, error) {
	bb := t.buckets[string(name)]
	if bb == nil {
		full := append([]byte(t.prefix), name...)
		bb = &boltBucket{b: t.tx.Bucket(full)}
		t.buckets[string(name)] = bb
	}
	if bb.b == nil && create {
		if t.tx.DB() == nil {
			return nil, ErrTxDone
		}
		full := append([]byte(t.prefix), name...)
		b, err := t.tx.CreateBucket(full)
		if err != nil {
			return nil, fmt.Errorf("kv: create bucket %s: %w", full, err)
		}
		bb.b = b
	}
	if bb.b == nil {
		return nil, nil
	}
	return bb, nil
}

// Get implements Reader.
func (t *BoltTx) Get(bucket, key []byte) []byte {
	bb, _ := t.bucket(bucket, false)
	if bb == nil {
		return nil
	}
	return bb.b.Get(key)
}

// ForEach implements Reader.
func (t *BoltTx) ForEach(bucket []byte, fn func(k, v []byte) error) error {
	bb, _ := t.bucket(bucket, false)
	if bb == nil {
		return nil
	}
	return bb.b.ForEach(fn)
}

// Put implements Tx.
func (t *BoltTx) Put(bucket, key, value []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	bb, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // bbolt reads a nil value back as absent until commit
	}
	if err := bb.b.Put(key, value); err != nil {
		return boltErr(err)
	}
	if bb.last != nil && bytes.Compare(key, bb.last) > 0 {
		bb.last = key
	}
	return nil
}

// Append implements Tx. The bucket's fill percent becomes 1 for the rest
// of the transaction, as for the ledger's own append-only buckets.
func (t *BoltTx) Append(bucket, key, value []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	bb, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	last := bb.last
	if last == nil {
		last, _ = bb.b.Cursor().Last()
	}
	if last != nil && bytes.Compare(key, last) <= 0 {
		return fmt.Errorf("%w: %x after %x in %s%s", ErrNotAppend, key, last, t.prefix, bucket)
	}
	bb.b.FillPercent = 1
	if value == nil {
		value = []byte{}
	}
	if err := bb.b.Put(key, value); err != nil {
		return boltErr(err)
	}
	bb.last = key
	return nil
}

// OnCommit implements Tx (bbolt's Tx.OnCommit).
func (t *BoltTx) OnCommit(fn func()) { t.tx.OnCommit(fn) }

// Delete implements Tx.
func (t *BoltTx) Delete(bucket, key []byte) error {
	if err := checkKey(bucket, key); err != nil {
		return err
	}
	bb, err := t.bucket(bucket, false)
	if bb == nil || err != nil {
		if t.tx.DB() == nil {
			return ErrTxDone
		}
		return err
	}
	if bb.last != nil && bytes.Equal(key, bb.last) {
		bb.last = nil // the greatest key is no longer known
	}
	return boltErr(bb.b.Delete(key))
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
