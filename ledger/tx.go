package ledger

import (
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Tx is one write transaction: events appended through it, checkpoints
// added through it, the applied Raft index and whatever the caller writes
// to its own buckets through KV are committed together, atomically and
// with one fsync, or not at all. A Tx is valid only inside the function
// given to Update.
//
// Any failed write, the ledger's or the caller's through KV, poisons the
// Tx: Update then rolls everything back and returns the error, even if the
// function ignored it.
type Tx struct {
	btx   *bolt.Tx
	st    state
	b     txBuckets
	arena []byte
	post  pending
	tiles tileWriter
	batch *batchRecorder // between BeginBatch and EndBatch
	kvs   map[string]*txKV
	err   error
}

type txBuckets struct {
	meta, events, tree, checkpoints, time, tails *bolt.Bucket
	idx                                          [numIndexes]*bolt.Bucket
}

// AppendOptions control how Append assigns what the ledger owns.
type AppendOptions struct {
	// RaftIndex is recorded in every appended event (0 outside a cluster).
	RaftIndex uint64
	// Time is the default timestamp (Unix nanoseconds) for events whose
	// Time is 0: the leader's stamp on the batch.
	Time int64
	// Exact appends events exactly as given (import and restore-by-replay):
	// their index must be the next one, their raft index and time are kept,
	// the time must not go backwards, and derived checkpoint fields must
	// equal what the ledger computes. Any difference is ErrSequence.
	Exact bool
}

// Appended describes one appended event.
type Appended struct {
	Index    uint64 `json:"index"`
	Time     int64  `json:"time"`
	LeafHash Hash   `json:"leaf_hash"`
	// Event is the event as stored (index, time and derived fields set)
	// and Canonical its canonical encoding, the leaf LeafHash hashes.
	// Both are the store's own: read them, never modify them.
	Event     *event.Event `json:"-"`
	Canonical []byte       `json:"-"`
}

// Update runs fn in a write transaction and commits it, returning the new
// head. If fn returns an error, or any ledger write inside it failed, the
// transaction is rolled back and the ledger is unchanged.
func (s *Store) Update(fn func(tx *Tx) error) (Head, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return Head{}, ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	btx, err := s.db.Begin(true)
	if err != nil {
		return Head{}, fmt.Errorf("ledger: begin: %w", err)
	}
	defer btx.Rollback() // no-op after a successful commit
	tx, err := newTx(btx, s.st.clone())
	if err == nil {
		err = fn(tx)
	}
	if err == nil {
		err = tx.commit()
	}
	if err != nil {
		return Head{}, err
	}
	s.st = tx.st
	h := tx.st.head()
	s.head.Store(h)
	s.roots.put(h.Size, h.Root)
	return *h, nil
}

// commit writes what the Tx deferred (index chunks, tiles, meta) and
// commits, unless an earlier ledger write failed.
func (t *Tx) commit() error {
	err := t.err
	if err == nil {
		err = t.post.flush(&t.b.idx, t.b.tails, t.alloc)
	}
	if err == nil {
		err = t.tiles.flush(t.b.tree, t.alloc)
	}
	if err == nil {
		err = t.writeMeta()
	}
	if err != nil {
		return err
	}
	if err := t.btx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

func newTx(btx *bolt.Tx, st state) (*Tx, error) {
	t := &Tx{btx: btx, st: st}
	b := &t.b
	for _, x := range []struct {
		p    **bolt.Bucket
		name []byte
	}{{&b.meta, bucketMeta}, {&b.events, bucketEvents}, {&b.tree, bucketTree},
		{&b.checkpoints, bucketCheckpoints}, {&b.time, bucketIdxTime}, {&b.tails, bucketIdxTails}} {
		if *x.p = btx.Bucket(x.name); *x.p == nil {
			return nil, fmt.Errorf("%w: missing bucket %s", ErrCorrupt, x.name)
		}
	}
	for i, d := range indexDefs {
		if b.idx[i] = btx.Bucket(d.bucket); b.idx[i] == nil {
			return nil, fmt.Errorf("%w: missing bucket %s", ErrCorrupt, d.bucket)
		}
	}
	// Pure appends: pack pages full.
	b.events.FillPercent, b.tree.FillPercent, b.time.FillPercent = 1, 1, 1
	return t, nil
}

// Size is the number of events including those appended in this Tx.
func (t *Tx) Size() uint64 { return t.st.size }

// Root is the tree root including events appended in this Tx.
func (t *Tx) Root() []byte { return rangeRoot(t.st.rng) }

func (t *Tx) nodes() *ledgerNodes {
	return &ledgerNodes{tree: t.b.tree, events: t.b.events, pending: &t.tiles}
}

// Event reads event i as of this Tx (events appended in it included),
// with its leaf hash.
func (t *Tx) Event(i uint64) (event.Event, Hash, error) {
	e, _, leaf, err := t.EventBytes(i)
	return e, leaf, err
}

// EventBytes is Event with a copy of the event's canonical encoding.
func (t *Tx) EventBytes(i uint64) (event.Event, []byte, Hash, error) {
	if i >= t.st.size {
		return event.Event{}, nil, nil, fmt.Errorf("%w: event %d, ledger size %d", ErrOutOfRange, i, t.st.size)
	}
	v := t.b.events.Get(u64(i))
	if len(v) < leafSize {
		return event.Event{}, nil, nil, fmt.Errorf("%w: event %d missing", ErrCorrupt, i)
	}
	e, err := event.UnmarshalEvent(v[leafSize:])
	if err != nil {
		return event.Event{}, nil, nil, fmt.Errorf("event %d: %w", i, err)
	}
	v = append([]byte(nil), v...)
	return e, v[leafSize:], v[:leafSize:leafSize], nil
}

// BeginBatch starts recording a proof batch: EndBatch returns the
// inclusion proofs of the events appended from now on, against the tree
// as it stands then. A batch already begun is dropped.
func (t *Tx) BeginBatch() { t.batch = newBatchRecorder(t.st.rng) }

// EndBatch ends the batch BeginBatch began and returns its proofs (nil
// when none was begun). Its events are not committed yet: the proofs hold
// once Update returns without error.
func (t *Tx) EndBatch() *BatchProofs {
	if t.batch == nil {
		return nil
	}
	p := t.batch.finish(t.st.rng)
	t.batch = nil
	return p
}

// AppliedIndex is the applied Raft index as of this Tx.
func (t *Tx) AppliedIndex() uint64 { return t.st.applied }

// SetAppliedIndex records i as the last applied Raft index, committed with
// the rest of the Tx. It may not move backwards.
func (t *Tx) SetAppliedIndex(i uint64) error {
	if i < t.st.applied {
		return t.fail(fmt.Errorf("%w: applied index %d is below %d", ErrAlreadyApplied, i, t.st.applied))
	}
	t.st.applied = i
	return nil
}

func (t *Tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// Append appends events in order. The ledger assigns each event's index
// and raft index, fills in a zero time from opts.Time (raising a time that
// would go backwards to its predecessor's), fills PolicyDecision actor,
// tenant and capability from the request, computes checkpoint fields,
// validates, stores, hashes into the tree and indexes each event.
//
// Validation, encoding and leaf hashing of a large batch run on several
// cores; storing runs in order, so the result does not depend on it.
func (t *Tx) Append(opts AppendOptions, events ...event.Event) ([]Appended, error) {
	if t.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTxFailed, t.err)
	}
	if len(events) > limits.MaxLedgerBatch {
		return nil, t.fail(fmt.Errorf("%w: %d events in one append, limit %d", event.ErrInvalidEvent, len(events), limits.MaxLedgerBatch))
	}
	prep, err := t.prepareAll(events, opts)
	if err != nil {
		return nil, t.fail(err)
	}
	out := make([]Appended, len(prep))
	for i := range prep {
		p := &prep[i]
		if err := t.finish(p, opts); err != nil {
			return nil, t.fail(fmt.Errorf("event %d of %d: %w", i, len(events), err))
		}
		if err := t.store(&p.e, p.val); err != nil {
			return nil, t.fail(fmt.Errorf("event %d of %d: %w", i, len(events), err))
		}
		out[i] = Appended{Index: p.e.Index, Time: p.e.Time, LeafHash: p.val[:leafSize:leafSize], Event: &p.e, Canonical: p.val[leafSize:]}
	}
	return out, nil
}

// prepared is an event on its way in: assigned, then encoded and hashed.
type prepared struct {
	e event.Event
	// val is the stored value: the leaf hash, then the canonical bytes.
	val []byte
	err error
	// late events (checkpoints) derive fields from the tree as it is just
	// before them, so they are encoded in order, not in parallel.
	late bool
}

// cursor tracks index and time through a batch before it is stored.
type cursor struct {
	size     uint64
	lastTime int64
}

// prepareAll assigns every event in order, then validates, encodes and
// hashes them, in parallel for large batches.
func (t *Tx) prepareAll(events []event.Event, o AppendOptions) ([]prepared, error) {
	prep := make([]prepared, len(events))
	c := cursor{size: t.st.size, lastTime: t.st.lastTime}
	for i := range events {
		p := &prep[i]
		p.e = events[i]
		if err := assign(&p.e, o, &c); err != nil {
			return nil, fmt.Errorf("event %d of %d: %w", i, len(events), err)
		}
		p.late = isCheckpoint(p.e.Data)
	}
	parallel(len(prep), func(i int) {
		if p := &prep[i]; !p.late {
			p.val, p.err = encode(&p.e)
		}
	})
	return prep, nil
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines; small batches
// run inline.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), 4, n/64)
	if workers < 2 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}(w)
	}
	wg.Wait()
}

// encode validates an event and returns what the ledger stores for it,
// its leaf hash followed by its canonical bytes, in one allocation.
func encode(e *event.Event) (val []byte, err error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	sp := scratch.Get().(*[]byte)
	b, err := e.AppendCanonical((*sp)[:0])
	if err == nil {
		val = make([]byte, leafSize+len(b))
		copy(val[leafSize:], b)
		leafHashInto(val[:leafSize], b)
	}
	if cap(b) <= 64<<10 {
		*sp = b
		scratch.Put(sp)
	}
	return val, err
}

// scratch holds encoding buffers (encode runs on several goroutines).
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// finish completes a prepared event just before it is stored: a late
// event gets its derived fields from the current tree and is encoded.
func (t *Tx) finish(p *prepared, o AppendOptions) error {
	if !p.late {
		return p.err
	}
	if err := t.derive(&p.e, o.Exact); err != nil {
		return err
	}
	p.val, p.err = encode(&p.e)
	return p.err
}

func isCheckpoint(p event.Payload) bool {
	switch p.(type) {
	case event.AuditCheckpoint, event.Checkpoint:
		return true
	}
	return false
}

// assign sets what the ledger owns, index, raft index and time, or in
// Exact mode checks that the event already has them, and advances c.
func assign(e *event.Event, o AppendOptions, c *cursor) error {
	e.Normalize()
	if !o.Exact {
		e.Index, e.RaftIndex = c.size, o.RaftIndex
		if e.Time == 0 {
			e.Time = o.Time
		}
		e.Time = max(e.Time, c.lastTime)
	} else if e.Index != c.size {
		return fmt.Errorf("%w: event index %d, the ledger's next index is %d", ErrSequence, e.Index, c.size)
	} else if e.Time < c.lastTime {
		return fmt.Errorf("%w: event %d time %d is before its predecessor's %d", ErrSequence, e.Index, e.Time, c.lastTime)
	}
	c.size, c.lastTime = c.size+1, e.Time
	return nil
}

// derive computes checkpoint payload fields from the ledger's state. With
// check set it compares them with the event's instead of overwriting.
func (t *Tx) derive(e *event.Event, check bool) error {
	var want event.Payload
	since := t.st.size - t.st.lastCP
	switch p := e.Data.(type) {
	case event.AuditCheckpoint:
		p.EventsSinceLast = since
		want = p
	case event.Checkpoint:
		p.Size, p.Root, p.EventsSinceLast = t.st.size, hex.EncodeToString(rangeRoot(t.st.rng)), since
		p.PolicyHash = t.st.policyHash
		want = p
	default:
		return nil
	}
	if check && want != e.Data {
		return fmt.Errorf("%w: event %d checkpoint fields %+v, the ledger computes %+v", ErrSequence, e.Index, e.Data, want)
	}
	e.Data = want
	return nil
}

// store writes one validated, encoded event (val: its leaf hash, then its
// canonical bytes): its bytes, its tree nodes, its index entries, and
// advances the in-memory state.
func (t *Tx) store(e *event.Event, val []byte) error {
	leaf := val[:leafSize:leafSize]
	if err := t.b.events.Put(u64(e.Index), val); err != nil {
		return fmt.Errorf("store event %d: %w", e.Index, err)
	}
	err := appendLeaf(t.st.rng, leaf, func(id compact.NodeID, h []byte) error {
		if id.Level >= minStoredLevel {
			t.tiles.set(t.b.tree, id, h)
		}
		if t.batch != nil {
			t.batch.node(id, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store tree nodes of %d: %w", e.Index, err)
	}
	if err := t.putIndexes(e); err != nil {
		return err
	}
	t.advance(e)
	return nil
}

func (t *Tx) advance(e *event.Event) {
	t.st.size++
	t.st.lastTime = e.Time
	switch p := e.Data.(type) {
	case event.AuditCheckpoint, event.Checkpoint:
		t.st.lastCP = t.st.size
	case event.PolicyChanged:
		if p.PolicyHash != "" {
			t.st.policyHash = p.PolicyHash
		}
	}
}

// putIndexes queues the event's equality-index postings (written once per
// Tx, before commit) and records the first index of each distinct time.
func (t *Tx) putIndexes(e *event.Event) error {
	for i := range indexDefs {
		if v := indexDefs[i].value(e); v != "" {
			t.post.add(i, v, e.Index)
		}
	}
	if e.Index > 0 && e.Time == t.st.lastTime {
		return nil
	}
	if err := t.b.time.Put(t.timeKey(e.Time), u64(e.Index)); err != nil {
		return fmt.Errorf("time index of %d: %w", e.Index, err)
	}
	return nil
}

func (t *Tx) timeKey(tm int64) []byte {
	k := t.alloc(8)
	copy(k, u64(uint64(tm)))
	return k
}

// alloc carves n bytes from the Tx's key arena. bbolt keeps references to
// keys until commit, so arena chunks are never reused, only replaced.
func (t *Tx) alloc(n int) []byte {
	if len(t.arena)+n > cap(t.arena) {
		t.arena = make([]byte, 0, max(n, 64<<10))
	}
	start := len(t.arena)
	t.arena = t.arena[:start+n]
	return t.arena[start : start+n : start+n]
}

func (t *Tx) writeMeta() error {
	m := t.b.meta
	return firstErr(
		m.Put(metaSize, u64(t.st.size)),
		m.Put(metaApplied, u64(t.st.applied)),
		m.Put(metaLastTime, u64(uint64(t.st.lastTime))),
		m.Put(metaLastCP, u64(t.st.lastCP)),
		m.Put(metaPolicyHash, []byte(t.st.policyHash)),
	)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BatchResult is the outcome of AppendBatch.
type BatchResult struct {
	Events []Appended `json:"events"`
	Head   Head       `json:"head"`
	// Proofs proves each appended event in the tree of size
	// Proofs.Size(): Head.Size, unless extra appended more.
	Proofs *BatchProofs `json:"-"`
}

// AppendBatch appends events in one transaction (one fsync). When
// opts.RaftIndex is set it must be above the last applied index, and it is
// recorded as applied in the same transaction, so a restart never applies
// a Raft entry twice. extra, when not nil, runs in the same transaction
// after the append (a caller writes its own buckets there, through
// tx.KV).
func (s *Store) AppendBatch(events []event.Event, opts AppendOptions, extra func(tx *Tx) error) (BatchResult, error) {
	var res BatchResult
	head, err := s.Update(func(tx *Tx) error {
		if opts.RaftIndex != 0 {
			if opts.RaftIndex <= tx.AppliedIndex() {
				return fmt.Errorf("%w: raft index %d, last applied %d", ErrAlreadyApplied, opts.RaftIndex, tx.AppliedIndex())
			}
			if err := tx.SetAppliedIndex(opts.RaftIndex); err != nil {
				return err
			}
		}
		var err error
		tx.BeginBatch()
		if res.Events, err = tx.Append(opts, events...); err != nil {
			return err
		}
		res.Proofs = tx.EndBatch()
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
	if err != nil {
		return BatchResult{}, err
	}
	res.Head = head
	return res, nil
}
