package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/event"
)

// Options configure a Store.
type Options struct {
	// ReadOnly opens the file with a shared lock for reading only (offline
	// inspection of a stopped node's data directory).
	ReadOnly bool
	// NoSync skips fsync on commit. Only for tests and benchmarks that do
	// not measure durability: a crash can then lose committed batches.
	NoSync bool
	// LockTimeout is how long Open waits for another process's lock on the
	// file before failing with ErrLocked (default 2s).
	LockTimeout time.Duration
	// InitialMmapSize pre-sizes the memory map so that growth does not
	// block readers while it remaps (0: bbolt's default).
	InitialMmapSize int
}

// Hash is a tree hash; its JSON form is lowercase hex.
type Hash []byte

// MarshalText renders lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText parses hex.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("%w: hash: %v", event.ErrDecode, err)
	}
	*h = v
	return nil
}

func (h Hash) String() string { return hex.EncodeToString(h) }

// Head is the ledger's state after the last committed transaction.
type Head struct {
	Size         uint64 `json:"size"`
	Root         Hash   `json:"root"`
	AppliedIndex uint64 `json:"applied_index"`
	LastTime     int64  `json:"last_time"`
	PolicyHash   string `json:"policy_hash,omitempty"`
}

// state is what the writer keeps in memory between transactions: the
// compact range of the whole tree (its right border) and the meta values.
type state struct {
	size       uint64
	rng        *compact.Range
	lastTime   int64
	lastCP     uint64
	applied    uint64
	policyHash string
}

func (st *state) clone() state {
	c := *st
	c.rng = cloneRange(st.rng)
	return c
}

func (st *state) head() *Head {
	return &Head{Size: st.size, Root: rangeRoot(st.rng), AppliedIndex: st.applied,
		LastTime: st.lastTime, PolicyHash: st.policyHash}
}

// Store is a ledger over one bbolt file. It is safe for concurrent use:
// reads run in parallel with each other and with the single writer.
type Store struct {
	path string
	opts Options

	mu sync.RWMutex // guards db: held shared by every operation, exclusively to swap or close it
	db *bolt.DB

	wmu  sync.Mutex // serializes writers; guards st
	st   state
	head atomic.Pointer[Head]
	// roots remembers the roots of the latest sizes: a tree's root at a
	// size never changes, and proofs ask for the head's (or a recent
	// checkpoint's) again and again.
	roots rootCache
	// tiles keeps complete upper tiles for proofs.
	tiles tileCache
}

// Open opens (creating when needed, unless ReadOnly) the ledger file at
// path and loads its head.
func Open(path string, opts Options) (*Store, error) {
	s := &Store{path: path, opts: opts}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	timeout := s.opts.LockTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{
		Timeout: timeout, ReadOnly: s.opts.ReadOnly, NoSync: s.opts.NoSync,
		FreelistType: bolt.FreelistMapType, InitialMmapSize: s.opts.InitialMmapSize,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("%w: %s", ErrLocked, s.path)
	}
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", s.path, err)
	}
	if err := s.init(db); err != nil {
		db.Close()
		return err
	}
	s.db = db
	return nil
}

func (s *Store) init(db *bolt.DB) error {
	if !s.opts.ReadOnly {
		if err := db.Update(createBuckets); err != nil {
			return err
		}
	}
	var st state
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = loadState(tx, s.opts.ReadOnly)
		return err
	})
	if err != nil {
		return err
	}
	s.st = st
	h := st.head()
	s.head.Store(h)
	s.roots.reset() // a restored file is another ledger
	s.tiles.reset()
	s.roots.put(h.Size, h.Root)
	return nil
}

// rootCache holds the roots of a few tree sizes (a nil cache holds none).
type rootCache struct {
	mu    sync.Mutex
	sizes [16]uint64
	roots [16][]byte
	next  int
}

func (c *rootCache) get(size uint64) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.sizes {
		if s == size && c.roots[i] != nil {
			return append([]byte(nil), c.roots[i]...)
		}
	}
	return nil
}

func (c *rootCache) put(size uint64, root []byte) {
	if c == nil || size == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sizes {
		if s == size {
			return
		}
	}
	c.sizes[c.next], c.roots[c.next] = size, append([]byte(nil), root...)
	c.next = (c.next + 1) % len(c.sizes)
}

func (c *rootCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sizes, c.roots, c.next = [16]uint64{}, [16][]byte{}, 0
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v, _ := getU64(meta.Get(metaFormat)); {
	case meta.Get(metaFormat) == nil:
		return meta.Put(metaFormat, u64(formatVersion))
	case v == formatV1:
		if err := migrateTails(tx); err != nil {
			return err
		}
		return meta.Put(metaFormat, u64(formatVersion))
	}
	return nil
}

// migrateTails brings a version-1 file's posting lists to the tail layout:
// each value's last chunk, when not full, becomes its tail.
func migrateTails(tx *bolt.Tx) error {
	tails := tx.Bucket(bucketIdxTails)
	for i, d := range indexDefs {
		b := tx.Bucket(d.bucket)
		type move struct{ key, val []byte }
		var moves []move
		var lastK, lastV []byte
		consider := func() error {
			if lastK == nil {
				return nil
			}
			if _, n, err := scanChunk(keyIndex(lastK), lastV); err != nil {
				return fmt.Errorf("index %s: %w", d.name, err)
			} else if n < postingsPerChunk {
				moves = append(moves, move{append([]byte(nil), lastK...), append([]byte(nil), lastV...)})
			}
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 10 || k[0] == 0 || k[len(k)-9] != 0 {
				return fmt.Errorf("%w: index %s: key %x in a version-1 file", ErrCorrupt, d.name, k)
			}
			if lastK != nil && !bytes.Equal(lastK[:len(lastK)-8], k[:len(k)-8]) {
				if err := consider(); err != nil {
					return err
				}
			}
			lastK, lastV = k, v
		}
		if err := consider(); err != nil {
			return err
		}
		for _, m := range moves {
			value := string(m.key[:len(m.key)-9])
			tail := append(binary.BigEndian.AppendUint64(nil, keyIndex(m.key)), m.val...)
			if err := errors.Join(b.Delete(m.key), tails.Put(tailKey(i, value), tail)); err != nil {
				return fmt.Errorf("index %s: %w", d.name, err)
			}
		}
	}
	return nil
}

// loadState reads the meta values and rebuilds the compact range. A file
// without ledger buckets (a fresh file opened read-only) is an empty ledger.
func loadState(tx *bolt.Tx, readOnly bool) (state, error) {
	st := state{rng: rangeFactory.NewEmptyRange(0)}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return st, nil
	}
	if v, ok := getU64(meta.Get(metaFormat)); !ok || (v != formatVersion && !(readOnly && v == formatV1)) {
		return st, fmt.Errorf("%w: layout version %x, want %d", ErrCorrupt, meta.Get(metaFormat), formatVersion)
	}
	st.size, _ = getU64(meta.Get(metaSize))
	st.applied, _ = getU64(meta.Get(metaApplied))
	lt, _ := getU64(meta.Get(metaLastTime))
	st.lastTime = int64(lt)
	st.lastCP, _ = getU64(meta.Get(metaLastCP))
	st.policyHash = string(meta.Get(metaPolicyHash))
	if err := checkLastEvent(tx, st.size); err != nil {
		return st, err
	}
	rng, err := loadRange(&ledgerNodes{tree: tx.Bucket(bucketTree), events: tx.Bucket(bucketEvents)}, st.size)
	if err != nil {
		return st, err
	}
	st.rng = rng
	return st, nil
}

// checkLastEvent confirms that the stored size and the last stored event
// agree, so a damaged meta value is caught at open, not by a later append.
func checkLastEvent(tx *bolt.Tx, size uint64) error {
	b := tx.Bucket(bucketEvents)
	if b == nil {
		return fmt.Errorf("%w: no events bucket", ErrCorrupt)
	}
	k, _ := b.Cursor().Last()
	switch {
	case size == 0 && k == nil:
		return nil
	case size > 0 && k != nil:
		if last, ok := getU64(k); ok && last == size-1 {
			return nil
		}
	}
	return fmt.Errorf("%w: meta size %d disagrees with the last stored event key %x", ErrCorrupt, size, k)
}

// Close closes the file. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Head returns the state after the last committed transaction.
func (s *Store) Head() Head { return *s.head.Load() }

// AppliedIndex is the last Raft index recorded as applied.
func (s *Store) AppliedIndex() uint64 { return s.head.Load().AppliedIndex }

// boltView runs fn in a read-only bbolt transaction on a consistent
// snapshot of the whole file. The transaction must not escape fn; byte
// slices read from it are valid only inside fn.
func (s *Store) boltView(fn func(tx *bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.View(fn)
}
