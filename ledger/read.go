package ledger

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/event"
)

// view runs fn on a read transaction of the ledger's buckets.
func (s *Store) view(fn func(r *reader) error) error {
	return s.boltView(func(tx *bolt.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				ce, ok := p.(missingBucket)
				if !ok {
					panic(p)
				}
				err = fmt.Errorf("%w: missing bucket %s", ErrCorrupt, string(ce))
			}
		}()
		r := newReader(tx)
		r.roots, r.tiles = &s.roots, &s.tiles
		return fn(r)
	})
}

// missingBucket is panicked by reader when a ledger bucket is absent from a
// file that has ledger meta, and turned into ErrCorrupt by view.
type missingBucket string

// reader reads the ledger within one bbolt transaction: a consistent
// snapshot of events, tree, indexes and checkpoints. Buckets are opened on
// first use, since most reads need two or three of them.
type reader struct {
	tx                            *bolt.Tx
	size                          uint64
	empty                         bool
	events, tree, checkpoints, tm *bolt.Bucket
	tails                         *bolt.Bucket
	tailsOpen                     bool
	idx                           [numIndexes]*bolt.Bucket
	nodeReader                    *ledgerNodes
	// roots and tiles, when set, are the store's caches of the roots of
	// recent sizes and of complete upper tiles.
	roots *rootCache
	tiles *tileCache
}

func newReader(tx *bolt.Tx) *reader {
	r := &reader{tx: tx}
	meta := tx.Bucket(bucketMeta)
	if meta == nil { // a fresh file opened read-only: an empty ledger
		r.empty = true
		return r
	}
	r.size, _ = getU64(meta.Get(metaSize))
	return r
}

func (r *reader) open(b **bolt.Bucket, name []byte) *bolt.Bucket {
	if *b == nil {
		if *b = r.tx.Bucket(name); *b == nil {
			panic(missingBucket(name))
		}
	}
	return *b
}

func (r *reader) eventsB() *bolt.Bucket      { return r.open(&r.events, bucketEvents) }
func (r *reader) treeB() *bolt.Bucket        { return r.open(&r.tree, bucketTree) }
func (r *reader) checkpointsB() *bolt.Bucket { return r.open(&r.checkpoints, bucketCheckpoints) }
func (r *reader) timeB() *bolt.Bucket        { return r.open(&r.tm, bucketIdxTime) }
func (r *reader) idxB(i int) *bolt.Bucket    { return r.open(&r.idx[i], indexDefs[i].bucket) }

// tailsB is the posting lists' tails (nil in a file of the first layout).
func (r *reader) tailsB() *bolt.Bucket {
	if !r.tailsOpen {
		r.tails, r.tailsOpen = r.tx.Bucket(bucketIdxTails), true
	}
	return r.tails
}

func (r *reader) event(i uint64) (event.Event, error) {
	if i >= r.size {
		return event.Event{}, fmt.Errorf("%w: event %d, ledger size %d", ErrOutOfRange, i, r.size)
	}
	v := r.eventsB().Get(u64(i))
	if len(v) < leafSize {
		return event.Event{}, fmt.Errorf("%w: event %d missing", ErrCorrupt, i)
	}
	e, err := event.UnmarshalEvent(v[leafSize:])
	if err != nil {
		return event.Event{}, fmt.Errorf("event %d: %w", i, err)
	}
	return e, nil
}

// nodes reads tree nodes (one reader per transaction, so its tile and
// leaf caches serve every node a request needs); an empty ledger has none.
func (r *reader) nodes() *ledgerNodes {
	switch {
	case r.nodeReader != nil:
	case r.empty:
		r.nodeReader = &ledgerNodes{}
	default:
		r.nodeReader = &ledgerNodes{tree: r.treeB(), events: r.eventsB(), cache: r.tiles}
	}
	return r.nodeReader
}

func (r *reader) root(size uint64) ([]byte, error) {
	if size > r.size {
		return nil, fmt.Errorf("%w: size %d, ledger size %d", ErrOutOfRange, size, r.size)
	}
	if size == 0 {
		return EmptyRoot(), nil
	}
	if h := r.roots.get(size); h != nil {
		return h, nil
	}
	root, err := rootAt(r.nodes(), size)
	if err == nil {
		r.roots.put(size, root)
	}
	return root, err
}

// Event returns the event at index i.
func (s *Store) Event(i uint64) (event.Event, error) {
	var e event.Event
	err := s.view(func(r *reader) error {
		var err error
		e, err = r.event(i)
		return err
	})
	return e, err
}

// Root returns the tree root at a size up to the current one.
func (s *Store) Root(size uint64) (Hash, error) {
	var root []byte
	err := s.view(func(r *reader) error {
		var err error
		root, err = r.root(size)
		return err
	})
	return root, err
}

// InclusionProof proves that a leaf is in the tree of a given size.
type InclusionProof struct {
	Index    uint64 `json:"index"`
	Size     uint64 `json:"size"`
	LeafHash Hash   `json:"leaf_hash"`
	Root     Hash   `json:"root"`
	Proof    []Hash `json:"proof"`
}

// ConsistencyProof proves that the tree of size From is a prefix of the
// tree of size To.
type ConsistencyProof struct {
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	FromRoot Hash   `json:"from_root"`
	ToRoot   Hash   `json:"to_root"`
	Proof    []Hash `json:"proof"`
}

// InclusionProof returns the RFC 6962 inclusion proof of event index in
// the tree of the given size (index < size <= ledger size).
func (s *Store) InclusionProof(index, size uint64) (*InclusionProof, error) {
	var p *InclusionProof
	err := s.view(func(r *reader) error {
		var err error
		p, err = r.inclusion(index, size)
		return err
	})
	return p, err
}

func (r *reader) inclusion(index, size uint64) (*InclusionProof, error) {
	if size > r.size || index >= size {
		return nil, fmt.Errorf("%w: index %d in size %d, ledger size %d", ErrOutOfRange, index, size, r.size)
	}
	leaf, err := r.nodes().node(leafID(index))
	if err != nil {
		return nil, err
	}
	root, err := r.root(size)
	if err != nil {
		return nil, err
	}
	hashes, err := inclusionProof(r.nodes(), index, size)
	if err != nil {
		return nil, err
	}
	return &InclusionProof{Index: index, Size: size, LeafHash: leaf, Root: root, Proof: asHashes(hashes)}, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between two
// sizes (from <= to <= ledger size).
func (s *Store) ConsistencyProof(from, to uint64) (*ConsistencyProof, error) {
	var p *ConsistencyProof
	err := s.view(func(r *reader) error {
		var err error
		p, err = r.consistency(from, to)
		return err
	})
	return p, err
}

func (r *reader) consistency(from, to uint64) (*ConsistencyProof, error) {
	if from > to || to > r.size {
		return nil, fmt.Errorf("%w: sizes %d to %d, ledger size %d", ErrOutOfRange, from, to, r.size)
	}
	fromRoot, err := r.root(from)
	if err != nil {
		return nil, err
	}
	toRoot, err := r.root(to)
	if err != nil {
		return nil, err
	}
	hashes, err := consistencyProof(r.nodes(), from, to)
	if err != nil {
		return nil, err
	}
	return &ConsistencyProof{From: from, To: to, FromRoot: fromRoot, ToRoot: toRoot, Proof: asHashes(hashes)}, nil
}

func asHashes(hs [][]byte) []Hash {
	out := make([]Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// Bytes returns the proof hashes as plain byte slices, the form
// transparency-dev's verifier takes.
func Bytes(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// Reader reads one consistent snapshot of the ledger: what Store.Read
// hands its function. It is valid only inside that function.
type Reader struct{ r *reader }

// Read runs fn on one consistent snapshot of the ledger. Writers are not
// blocked while it runs.
func (s *Store) Read(fn func(r *Reader) error) error {
	return s.view(func(r *reader) error { return fn(&Reader{r: r}) })
}

// Size is the number of events in the snapshot.
func (r *Reader) Size() uint64 { return r.r.size }

// Root is the tree root at a size up to the snapshot's.
func (r *Reader) Root(size uint64) (Hash, error) { return r.r.root(size) }

// Event returns the event at index i.
func (r *Reader) Event(i uint64) (event.Event, error) { return r.r.event(i) }

// Match calls fn, in index order, for every event with an index in
// [q.Start, end) that matches q's filters (q.Limit is ignored), stopping
// at fn's first error. Like Query, it is served from the indexes.
func (r *Reader) Match(q Query, end uint64, fn func(e event.Event) error) error {
	q.Limit = 0
	if err := q.check(); err != nil {
		return err
	}
	m := r.r.matcher(&q)
	m.hi = min(m.hi, end)
	for idx, ok := m.next(q.Start); ok; idx, ok = m.next(idx + 1) {
		e, err := r.r.event(idx)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return m.err()
}
