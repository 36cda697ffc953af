package kv

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Mem is an in-memory DB. Committed data is never modified in place: a
// write transaction copies each bucket it writes and publishes the new
// set at commit, so readers see one consistent snapshot without locks.
type Mem struct {
	wmu  sync.Mutex // serializes writers
	data atomic.Pointer[memData]
}

// memData maps bucket → key → value; immutable once published.
type memData map[string]map[string][]byte

var _ DB = (*Mem)(nil)

// NewMem returns an empty in-memory DB.
func NewMem() *Mem {
	m := &Mem{}
	m.data.Store(&memData{})
	return m
}

// View implements DB.
func (m *Mem) View(fn func(Reader) error) error {
	return fn(&memTx{base: *m.data.Load()})
}

// Update implements DB.
func (m *Mem) Update(fn func(Tx) error) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	base := *m.data.Load()
	tx := &memTx{base: base, dirty: map[string]map[string][]byte{}, writable: true}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	next := make(memData, len(base)+len(tx.dirty))
	for b, kvs := range base {
		next[b] = kvs
	}
	for b, kvs := range tx.dirty {
		next[b] = kvs
	}
	m.data.Store(&next)
	for _, fn := range tx.onCommit {
		fn()
	}
	return nil
}

type memTx struct {
	base     memData
	dirty    map[string]map[string][]byte // buckets copied and written in this tx
	writable bool
	done     bool
	onCommit []func()
}

func (t *memTx) read(bucket []byte) map[string][]byte {
	if b, ok := t.dirty[string(bucket)]; ok {
		return b
	}
	return t.base[string(bucket)]
}

func (t *memTx) write(bucket []byte) map[string][]byte {
	if b, ok := t.dirty[string(bucket)]; ok {
		return b
	}
	old := t.base[string(bucket)]
	b := make(map[string][]byte, len(old)+1)
	for k, v := range old {
		b[k] = v
	}
	t.dirty[string(bucket)] = b
	return b
}

// Get implements Reader.
func (t *memTx) Get(bucket, key []byte) []byte { return t.read(bucket)[string(key)] }

// ForEach implements Reader.
func (t *memTx) ForEach(bucket []byte, fn func(k, v []byte) error) error {
	b := t.read(bucket)
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), b[k]); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTx) check(bucket, key []byte) error {
	switch {
	case t.done:
		return ErrTxDone
	case !t.writable:
		return errReadOnly
	}
	return checkKey(bucket, key)
}

// Put implements Tx.
func (t *memTx) Put(bucket, key, value []byte) error {
	if err := t.check(bucket, key); err != nil {
		return err
	}
	t.write(bucket)[string(key)] = append([]byte{}, value...)
	return nil
}

// Delete implements Tx.
func (t *memTx) Delete(bucket, key []byte) error {
	if err := t.check(bucket, key); err != nil {
		return err
	}
	if _, ok := t.read(bucket)[string(key)]; ok {
		delete(t.write(bucket), string(key))
	}
	return nil
}

// Append implements Tx. Memory has no pages to pack: it checks the key's
// order (by a walk of the bucket; Mem is for tests) and puts.
func (t *memTx) Append(bucket, key, value []byte) error {
	if err := t.check(bucket, key); err != nil {
		return err
	}
	for k := range t.read(bucket) {
		if k >= string(key) {
			return fmt.Errorf("%w: %x after %x in %s", ErrNotAppend, key, k, bucket)
		}
	}
	return t.Put(bucket, key, value)
}

// OnCommit implements Tx.
func (t *memTx) OnCommit(fn func()) { t.onCommit = append(t.onCommit, fn) }
