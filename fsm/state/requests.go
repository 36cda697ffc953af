package state

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/principal"
)

// The request-id table.
//
// Entries live in bucket reqlog under their sequence number, so that
// remembering appends at the table's end and forgetting deletes at its
// start: a batch of new request ids writes a page or two of the file
// wherever their keys would sort, instead of one page per id. An entry is
//
//	0x01 (format) || uvarint len(key) || key || digest (32 bytes) || answer
//
// where key is "invoker/request id" and answer is the caller's compact
// encoding of the answer it gave (the FSM's: the ledger index of the
// decision and the little its event does not hold, fsm/requests.go).
//
// Looking an id up by key goes through an index in memory (requestIndex):
// a 64-bit fingerprint of every key in the table to its sequence number,
// with the rare keys whose fingerprint another key already has kept whole.
// A hit is confirmed against the key stored in the entry. The index is
// rebuilt from the table by the first writer of a Store (and after Reset
// or any change it did not see: its sequence number then differs from the
// table's), and a transaction's changes reach it only once the
// transaction has committed (kv.Tx.OnCommit), so a rolled-back batch
// leaves it as the file is. At limits.MaxRequestIDs entries it holds about
// 5 MB and takes a few tens of milliseconds to rebuild.
//
// Earlier versions kept the table as key → the whole answer (bucket
// requests) beside sequence → key (bucket reqorder). Those entries are
// still found (by key, in requests) and forgotten in their turn, so a data
// directory written before reads unchanged; new entries always go to
// reqlog, and the old buckets empty as the table turns over.

const reqEntryFormat = 1

// ErrBadRequestEntry is a request-table entry that does not decode.
var ErrBadRequestEntry = errors.New("state: malformed request-table entry")

// RequestEntry is one entry of the request-id table.
type RequestEntry struct {
	// Seq is the entry's position: entries are forgotten in Seq order.
	Seq uint64
	// Digest identifies what was asked, so that a reused request id with
	// a different body is told apart from a retry.
	Digest [32]byte
	// Answer is the caller's encoding of the answer it gave (a copy).
	Answer []byte
	// Legacy, for an entry an earlier version wrote, is its stored bytes:
	// the canonical msgpack of a RequestRecord holding the whole answer
	// (LegacyResult decodes it). Answer is then nil.
	Legacy []byte
}

func requestKey(invoker principal.KeyID, id string) []byte {
	k := make([]byte, 0, len(invoker)+1+len(id))
	return append(append(append(k, invoker...), '/'), id...)
}

func encodeEntry(key []byte, digest *[32]byte, answer []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(key)+32+len(answer))
	b = append(b, reqEntryFormat)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, digest[:]...)
	return append(b, answer...)
}

// decodeEntry splits a reqlog value; key and e.Answer alias raw.
func decodeEntry(seq uint64, raw []byte) (key []byte, e RequestEntry, err error) {
	if len(raw) == 0 || raw[0] != reqEntryFormat {
		return nil, e, fmt.Errorf("%w: entry %d: format %x", ErrBadRequestEntry, seq, raw[:min(len(raw), 1)])
	}
	n, m := binary.Uvarint(raw[1:])
	rest := raw[1:]
	if m <= 0 || m != uvarintLen(n) || n == 0 || n > uint64(len(rest)-m) || uint64(len(rest)-m)-n < 32 {
		return nil, e, fmt.Errorf("%w: entry %d: key length", ErrBadRequestEntry, seq)
	}
	rest = rest[m:]
	key, rest = rest[:n], rest[n:]
	e.Seq = seq
	copy(e.Digest[:], rest[:32])
	e.Answer = rest[32:]
	return key, e, nil
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}

// own copies an entry's Answer out of the transaction's memory.
func (e RequestEntry) own() RequestEntry {
	e.Answer = append([]byte{}, e.Answer...)
	return e
}

var errStop = errors.New("stop")

// Request reads the entry of invoker's request id in a read transaction:
// a walk of the table, for tests and tools. A writer finds it through the
// index instead (Writer.Request).
func (r *Reader) Request(invoker principal.KeyID, id string) (RequestEntry, bool, error) {
	key := requestKey(invoker, id)
	var out RequestEntry
	found := false
	err := r.r.ForEach(bucketReqLog, func(k, v []byte) error {
		seq, ok := seqOf(k)
		if !ok {
			return fmt.Errorf("%w: key %x", ErrBadRequestEntry, k)
		}
		ek, e, err := decodeEntry(seq, v)
		if err != nil {
			return err
		}
		if bytes.Equal(ek, key) {
			out, found = e.own(), true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return RequestEntry{}, false, err
	}
	if found {
		return out, true, nil
	}
	return r.legacyRequest(key)
}

func seqOf(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// legacyRequest finds an entry an earlier version wrote.
func (r *Reader) legacyRequest(key []byte) (RequestEntry, bool, error) {
	raw := r.r.Get(bucketRequests, key)
	if raw == nil {
		return RequestEntry{}, false, nil
	}
	var head struct {
		Digest string `json:"digest"`
		Seq    uint64 `json:"seq"`
	}
	if err := decode(bucketRequests, key, raw, &head); err != nil {
		return RequestEntry{}, false, err
	}
	e := RequestEntry{Seq: head.Seq, Legacy: append([]byte{}, raw...)}
	if n, err := hex.Decode(e.Digest[:], []byte(head.Digest)); err != nil || n != 32 || len(head.Digest) != 64 {
		return RequestEntry{}, false, fmt.Errorf("%w: %s: digest %q", ErrBadRequestEntry, key, head.Digest)
	}
	return e, true, nil
}

// LegacyResult decodes the answer of an entry an earlier version wrote
// (e.Legacy set), of the result type R it was written with.
func LegacyResult[R any](e RequestEntry) (R, error) {
	var rec RequestRecord[R]
	if err := codec.Unmarshal(e.Legacy, &rec); err != nil {
		return rec.Result, fmt.Errorf("%w: legacy entry %d: %v", ErrBadRequestEntry, e.Seq, err)
	}
	return rec.Result, nil
}

// Request reads the entry of invoker's request id, as of this
// transaction.
func (w *Writer) Request(invoker principal.KeyID, id string) (RequestEntry, bool, error) {
	if err := w.reqs.begin(w); err != nil {
		return RequestEntry{}, false, err
	}
	key := requestKey(invoker, id)
	if seq, ok := w.reqs.lookup(key); ok {
		if raw := w.r.Get(bucketReqLog, u64key(seq)); raw != nil {
			ek, e, err := decodeEntry(seq, raw)
			if err != nil {
				return RequestEntry{}, false, err
			}
			if bytes.Equal(ek, key) {
				return e.own(), true, nil
			}
		}
	}
	return w.legacyRequest(key)
}

// Remember records invoker's request id with the digest of what was asked
// and the caller's answer as the table's newest entry, then forgets the
// oldest entry beyond max (in the order entries were remembered). The id
// must not be in the table already.
func (w *Writer) Remember(invoker principal.KeyID, id string, digest [32]byte, answer []byte, max uint64) error {
	if err := w.reqs.begin(w); err != nil {
		return err
	}
	key := requestKey(invoker, id)
	seq := w.reqs.seq + 1
	err := firstErr(
		w.putU64(bucketMeta, keyReqSeq, seq),
		w.tx.Append(bucketReqLog, u64key(seq), encodeEntry(key, &digest, answer)),
	)
	if err != nil {
		return err
	}
	w.reqs.add(key, seq)
	if seq <= max {
		return nil
	}
	return w.forget(seq - max)
}

// forget removes the entry at seq, wherever it is kept.
func (w *Writer) forget(seq uint64) error {
	k := u64key(seq)
	if raw := w.r.Get(bucketReqLog, k); raw != nil {
		key, _, err := decodeEntry(seq, raw)
		if err != nil {
			return err
		}
		key = append([]byte{}, key...)
		if err := w.tx.Delete(bucketReqLog, k); err != nil {
			return err
		}
		w.reqs.remove(key, seq)
		return nil
	}
	if oldKey := w.r.Get(bucketReqOrder, k); oldKey != nil {
		oldKey = append([]byte{}, oldKey...)
		return firstErr(w.tx.Delete(bucketRequests, oldKey), w.tx.Delete(bucketReqOrder, k))
	}
	return nil
}

// requestTx is one transaction's view of the index: what it remembered
// and forgot, applied to the lasting index when it commits.
type requestTx struct {
	ix    *requestIndex
	begun bool
	added map[string]uint64   // remembered in this transaction
	gone  map[string]struct{} // forgotten in this transaction
	ops   []requestOp
	seq   uint64 // the table's last sequence number, as of this transaction
}

type requestOp struct {
	key string
	seq uint64
	add bool
}

// begin brings the index in step with the table the transaction reads
// (or builds a private one for a writer without a Store).
func (t *requestTx) begin(w *Writer) error {
	if t.begun {
		return nil
	}
	private := t.ix == nil
	if private {
		t.ix = &requestIndex{}
	}
	if err := t.ix.sync(&w.Reader); err != nil {
		return err
	}
	t.begun, t.seq = true, w.u64(bucketMeta, keyReqSeq)
	if !private {
		w.tx.OnCommit(t.commit)
	}
	return nil
}

func (t *requestTx) lookup(key []byte) (uint64, bool) {
	if seq, ok := t.added[string(key)]; ok {
		return seq, true
	}
	if _, ok := t.gone[string(key)]; ok {
		return 0, false
	}
	return t.ix.lookup(key)
}

func (t *requestTx) add(key []byte, seq uint64) {
	if t.added == nil {
		t.added = map[string]uint64{}
	}
	t.added[string(key)] = seq
	delete(t.gone, string(key))
	t.ops = append(t.ops, requestOp{key: string(key), seq: seq, add: true})
	t.seq = seq
}

func (t *requestTx) remove(key []byte, seq uint64) {
	if s, ok := t.added[string(key)]; ok && s == seq {
		delete(t.added, string(key))
	}
	if t.gone == nil {
		t.gone = map[string]struct{}{}
	}
	t.gone[string(key)] = struct{}{}
	t.ops = append(t.ops, requestOp{key: string(key), seq: seq})
}

// commit applies the transaction's changes to the lasting index.
func (t *requestTx) commit() {
	if len(t.ops) == 0 {
		return
	}
	ix := t.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, op := range t.ops {
		if op.add {
			ix.add(op.key, op.seq)
		} else {
			ix.remove(op.key, op.seq)
		}
	}
	ix.seq = t.seq
}

// requestIndex maps every key of the request-id table (reqlog) to its
// sequence number.
type requestIndex struct {
	mu    sync.Mutex
	built bool
	seq   uint64            // the table's last sequence number it reflects
	byFP  map[uint64]uint64 // fingerprint of a key → its sequence number
	spill map[string]uint64 // keys whose fingerprint another key holds
}

// fingerprint is FNV-1a (64 bits) of a key: fixed, so nothing depends on
// a process's seed; a collision only moves a key to spill.
func fingerprint[K string | []byte](k K) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return h
}

func (ix *requestIndex) reset() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.built, ix.byFP, ix.spill = false, nil, nil
}

// sync rebuilds the index from the table r reads unless it already
// reflects the table's last sequence number.
func (ix *requestIndex) sync(r *Reader) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	seq := r.u64(bucketMeta, keyReqSeq)
	if ix.built && ix.seq == seq {
		return nil
	}
	ix.built, ix.byFP, ix.spill = false, map[uint64]uint64{}, nil
	err := r.r.ForEach(bucketReqLog, func(k, v []byte) error {
		s, ok := seqOf(k)
		if !ok {
			return fmt.Errorf("%w: key %x", ErrBadRequestEntry, k)
		}
		key, _, err := decodeEntry(s, v)
		if err != nil {
			return err
		}
		ix.add(string(key), s)
		return nil
	})
	if err != nil {
		return err
	}
	ix.built, ix.seq = true, seq
	return nil
}

func (ix *requestIndex) lookup(key []byte) (uint64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if seq, ok := ix.spill[string(key)]; ok {
		return seq, true
	}
	seq, ok := ix.byFP[fingerprint(key)]
	return seq, ok
}

// add indexes a key that is not in the table.
func (ix *requestIndex) add(key string, seq uint64) {
	fp := fingerprint(key)
	if _, taken := ix.byFP[fp]; !taken {
		ix.byFP[fp] = seq
		return
	}
	if ix.spill == nil {
		ix.spill = map[string]uint64{}
	}
	ix.spill[key] = seq
}

func (ix *requestIndex) remove(key string, seq uint64) {
	if s, ok := ix.spill[key]; ok && s == seq {
		delete(ix.spill, key)
		return
	}
	if fp := fingerprint(key); ix.byFP[fp] == seq {
		delete(ix.byFP, fp)
	}
}
