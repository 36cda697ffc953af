package state

import (
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Bootstrapped reports whether the cluster was bootstrapped.
func (r *Reader) Bootstrapped() bool { return r.r.Get(bucketMeta, keyBootstrapped) != nil }

// SetBootstrapped records that the cluster was bootstrapped.
func (w *Writer) SetBootstrapped() error { return w.tx.Put(bucketMeta, keyBootstrapped, []byte{1}) }

// Policy is the policy document in force, nil when none was set (the
// bootstrap policy applies). The bytes are a copy.
func (r *Reader) Policy() []byte {
	if raw := r.r.Get(bucketMeta, keyPolicy); raw != nil {
		return append([]byte{}, raw...)
	}
	return nil
}

// SetPolicy records the policy document in force.
func (w *Writer) SetPolicy(doc []byte) error { return w.tx.Put(bucketMeta, keyPolicy, doc) }

// Principals calls fn for every registered principal, in key id order.
func (r *Reader) Principals(fn func(p principal.Principal) error) error {
	return each(r, bucketPrincipals, func(_ []byte, p principal.Principal) error { return fn(p) })
}

// PutPrincipal registers (or replaces) the principal of p.KeyID.
func (w *Writer) PutPrincipal(p principal.Principal) error {
	return w.put(bucketPrincipals, []byte(p.KeyID), p)
}

// Nodes calls fn for every node record, in node id order.
func (r *Reader) Nodes(fn func(n Node) error) error {
	return each(r, bucketNodes, func(_ []byte, n Node) error { return fn(n) })
}

// PutNode records (or replaces) the record of node n.ID.
func (w *Writer) PutNode(n Node) error { return w.put(bucketNodes, []byte(n.ID), n) }

// DeleteNode removes a node's record.
func (w *Writer) DeleteNode(id string) error { return w.tx.Delete(bucketNodes, []byte(id)) }

// RemovedIDs calls fn for every tombstoned node id, in id order.
func (r *Reader) RemovedIDs(fn func(t Tombstone) error) error {
	return each(r, bucketRemovedIDs, func(_ []byte, t Tombstone) error { return fn(t) })
}

// RemovedKeys calls fn for every tombstoned key with its tombstone, in key
// id order.
func (r *Reader) RemovedKeys(fn func(key principal.KeyID, t Tombstone) error) error {
	return each(r, bucketRemovedKey, func(k []byte, t Tombstone) error { return fn(principal.KeyID(k), t) })
}

// PutRemovedID tombstones t.ID.
func (w *Writer) PutRemovedID(t Tombstone) error { return w.put(bucketRemovedIDs, []byte(t.ID), t) }

// PutRemovedKey tombstones key with t.
func (w *Writer) PutRemovedKey(key principal.KeyID, t Tombstone) error {
	return w.put(bucketRemovedKey, []byte(key), t)
}

// DeleteRemovedID clears the tombstone of a node id.
func (w *Writer) DeleteRemovedID(id string) error { return w.tx.Delete(bucketRemovedIDs, []byte(id)) }

// DeleteRemovedKey clears the tombstone of a key.
func (w *Writer) DeleteRemovedKey(key principal.KeyID) error {
	return w.tx.Delete(bucketRemovedKey, []byte(key))
}

// CapabilityFiles calls fn for every registered capability document in
// the order they were added (the registry is rebuilt by merging them in
// that order).
func (r *Reader) CapabilityFiles(fn func(doc []byte) error) error {
	return r.r.ForEach(bucketCaps, func(_, doc []byte) error { return fn(doc) })
}

// RegistryIndex is the Raft index of the last registry change (0: none).
func (r *Reader) RegistryIndex() uint64 { return r.u64(bucketMeta, keyRegistryIdx) }

// AddCapabilityFile appends a capability document after those registered
// before, and records raftIndex as the registry's last change.
func (w *Writer) AddCapabilityFile(doc []byte, raftIndex uint64) error {
	seq := w.u64(bucketMeta, keyCapSeq) + 1
	return firstErr(
		w.putU64(bucketMeta, keyCapSeq, seq),
		w.tx.Put(bucketCaps, u64key(seq), doc),
		w.putU64(bucketMeta, keyRegistryIdx, raftIndex),
	)
}

// Link reads a link's state; found is false for a link never charged or
// revoked.
func (r *Reader) Link(h delegation.Hash) (st LinkState, found bool, err error) {
	found, err = r.get(bucketLinks, h[:], &st)
	return st, found, err
}

// PutLink records a link's state under st.Hash.
func (w *Writer) PutLink(st LinkState) error { return w.put(bucketLinks, st.Hash[:], st) }

// HotLease reads an open lease; found is false when it is not open.
func (r *Reader) HotLease(id string) (l HotLease, found bool, err error) {
	found, err = r.get(bucketHotLeases, []byte(id), &l)
	return l, found, err
}

// HotLeases calls fn for every open lease, in id order.
func (r *Reader) HotLeases(fn func(id string, l HotLease) error) error {
	return each(r, bucketHotLeases, func(k []byte, l HotLease) error { return fn(string(k), l) })
}

// PutHotLease records an open lease.
func (w *Writer) PutHotLease(id string, l HotLease) error {
	return w.put(bucketHotLeases, []byte(id), l)
}

// DeleteHotLease removes a lease record.
func (w *Writer) DeleteHotLease(id string) error { return w.tx.Delete(bucketHotLeases, []byte(id)) }

// OpenHotLeases is the count of open leases kept beside them.
func (r *Reader) OpenHotLeases() uint64 { return r.u64(bucketMeta, keyHotLeaseN) }

// AddOpenHotLeases changes the open-lease count by delta, never below 0.
func (w *Writer) AddOpenHotLeases(delta int64) error {
	n := int64(w.OpenHotLeases()) + delta
	return w.putU64(bucketMeta, keyHotLeaseN, uint64(max(n, 0)))
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
