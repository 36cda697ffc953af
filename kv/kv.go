package kv

import (
	"errors"
)

// Reader reads one consistent snapshot. Byte slices it returns are valid
// only until the transaction ends and must not be modified; copy what is
// kept.
type Reader interface {
	// Get returns the value of key in bucket, or nil when the bucket or
	// the key is absent. A present key with an empty value reads as a
	// non-nil empty slice.
	Get(bucket, key []byte) []byte
	// ForEach calls fn for every key of bucket in byte order (none when
	// the bucket is absent) and stops at fn's first error, which it
	// returns. fn must not write to the transaction.
	ForEach(bucket []byte, fn func(key, value []byte) error) error
}

// Tx is a read-write transaction: it reads its own writes. Put and Delete
// keep their arguments until the transaction ends, so the caller must not
// modify them afterwards.
type Tx interface {
	Reader
	// Put sets key in bucket to value (nil is the empty value), creating
	// the bucket when needed.
	Put(bucket, key, value []byte) error
	// Delete removes key from bucket; an absent key or bucket is no error.
	Delete(bucket, key []byte) error
	// Append is Put for a key above every key of bucket, as in a log
	// (sequence-numbered keys). The bucket's pages are then packed full
	// rather than split half empty for inserts that will not come. A key
	// at or below the bucket's last one is ErrNotAppend.
	Append(bucket, key, value []byte) error
	// OnCommit registers fn to run after the transaction has committed,
	// never when it rolls back; functions run in the order registered.
	// It lets a caller keep derived memory (an index) in step with what
	// was committed.
	OnCommit(fn func())
}

// DB runs transactions: any number of readers alongside one writer.
type DB interface {
	// View runs fn on a consistent snapshot of the committed data.
	View(fn func(r Reader) error) error
	// Update runs fn in a write transaction, committed atomically when fn
	// returns nil and rolled back otherwise (and when a write fails).
	Update(fn func(tx Tx) error) error
}

// MaxKeySize is the longest key (and bucket name) a Tx accepts: bbolt's.
const MaxKeySize = 32768

var (
	// ErrInvalidKey is an empty or oversize key or bucket name.
	ErrInvalidKey = errors.New("kv: key or bucket name empty or longer than MaxKeySize")
	// ErrTxDone is a write to a transaction whose function has returned.
	ErrTxDone = errors.New("kv: transaction has ended")
	// ErrNotAppend is an Append whose key is not above the bucket's last.
	ErrNotAppend = errors.New("kv: appended key is not above the bucket's last key")
)

func checkKey(bucket, key []byte) error {
	if len(bucket) == 0 || len(key) == 0 || len(bucket) > MaxKeySize || len(key) > MaxKeySize {
		return ErrInvalidKey
	}
	return nil
}

var errReadOnly = errors.New("kv: write in a read-only transaction")
