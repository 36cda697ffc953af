package ledger

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/kv"
)

// The ledger's file also holds its callers' data (the FSM's replicated
// state), in bbolt buckets of their own named by a namespace prefix. A
// caller reads and writes them through a kv.Tx, never through bbolt: in
// a ledger transaction (Tx.KV), so that they commit with the ledger's own
// writes, or alone (Store.KV). Callers' namespaces must not be prefixes of
// one another ("fsm." and "fsm.x." would share buckets).

// ErrNamespace is a namespace that is malformed or that is the ledger's.
var ErrNamespace = fmt.Errorf("ledger: a namespace ends in '.' and is not %q", ledgerNamespace)

// ledgerNamespace prefixes every bucket the ledger owns (buckets.go).
const ledgerNamespace = "ledger."

func checkNamespace(ns string) error {
	if len(ns) < 2 || !strings.HasSuffix(ns, ".") || strings.HasPrefix(ns, ledgerNamespace) {
		return fmt.Errorf("%w: %q", ErrNamespace, ns)
	}
	return nil
}

// KV returns the caller's buckets named namespace+name in this
// transaction. What is written through it is committed with the events,
// checkpoints and applied index of the Tx, atomically and with one fsync,
// or not at all; a failed write poisons the Tx as a failed append does.
// namespace must end in '.' and must not be the ledger's ("ledger.").
func (t *Tx) KV(namespace string) (kv.Tx, error) {
	if err := checkNamespace(namespace); err != nil {
		return nil, err
	}
	if k := t.kvs[namespace]; k != nil {
		return k, nil // one view per namespace: it remembers absent buckets
	}
	k := &txKV{BoltTx: kv.OnBolt(t.btx, namespace), t: t}
	if t.kvs == nil {
		t.kvs = map[string]*txKV{}
	}
	t.kvs[namespace] = k
	return k, nil
}

// txKV is a namespace's kv.Tx inside a ledger Tx: its failed writes fail
// the Tx, so Update rolls everything back even if the caller ignores them.
type txKV struct {
	*kv.BoltTx
	t *Tx
}

func (k *txKV) Put(bucket, key, value []byte) error {
	if err := k.BoltTx.Put(bucket, key, value); err != nil {
		return k.t.fail(err)
	}
	return nil
}

func (k *txKV) Append(bucket, key, value []byte) error {
	if err := k.BoltTx.Append(bucket, key, value); err != nil {
		return k.t.fail(err)
	}
	return nil
}

func (k *txKV) Delete(bucket, key []byte) error {
	if err := k.BoltTx.Delete(bucket, key); err != nil {
		return k.t.fail(err)
	}
	return nil
}

// KV returns a namespace of the file as a kv.DB: View reads a consistent
// snapshot of its buckets (alongside the ledger's readers and writer), and
// Update writes them in a ledger transaction that appends nothing.
// namespace must end in '.' and must not be the ledger's ("ledger.").
func (s *Store) KV(namespace string) (kv.DB, error) {
	if err := checkNamespace(namespace); err != nil {
		return nil, err
	}
	return &storeKV{s: s, ns: namespace}, nil
}

type storeKV struct {
	s  *Store
	ns string
}

func (d *storeKV) View(fn func(kv.Reader) error) error {
	return d.s.boltView(func(tx *bolt.Tx) error { return fn(kv.OnBolt(tx, d.ns)) })
}

func (d *storeKV) Update(fn func(kv.Tx) error) error {
	_, err := d.s.Update(func(tx *Tx) error {
		k, err := tx.KV(d.ns)
		if err != nil {
			return err
		}
		return fn(k)
	})
	return err
}
