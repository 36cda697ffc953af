package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Equality indexes are posting lists: for each value, the ascending event
// indexes that have it, cut into chunks of at most postingsPerChunk
// entries. A chunk is stored under value || 0x00 || (its first index, 8
// bytes big-endian) as unsigned varints: the first entry's offset from the
// key's index (always 0), then the gap to each next entry.
//
// One key per chunk instead of one per event keeps an index's pages few and
// dense, so a batch rewrites one small chunk per distinct value instead of
// inserting an entry into a large page per event. Chunks are filled in
// order and a new one starts only when the last is full, so the layout is a
// function of the sequence of events alone, not of how they were batched.
const postingsPerChunk = 128

func chunkKey(prefix []byte, first uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], first)
	return k
}

// decodeChunk decodes a chunk into dst, checking that entries strictly
// increase from first.
func decodeChunk(dst []uint64, first uint64, v []byte) ([]uint64, error) {
	dst = dst[:0]
	prev := first
	for len(v) > 0 {
		d, n := binary.Uvarint(v)
		if n <= 0 || (len(dst) > 0 && d == 0) || (len(dst) == 0 && d != 0) || prev+d < prev {
			return nil, fmt.Errorf("%w: malformed index chunk at %d", ErrCorrupt, first)
		}
		prev += d
		dst = append(dst, prev)
		v = v[n:]
	}
	if len(dst) == 0 || len(dst) > postingsPerChunk {
		return nil, fmt.Errorf("%w: index chunk at %d has %d entries", ErrCorrupt, first, len(dst))
	}
	return dst, nil
}

// pending collects, per index and value, the indexes appended in a Tx; they
// are written as chunks once, before commit.
type pending [numIndexes]map[string][]uint64

func (p *pending) add(i int, value string, idx uint64) {
	if p[i] == nil {
		p[i] = map[string][]uint64{}
	}
	p[i][value] = append(p[i][value], idx)
}

// flush writes every pending posting, values in sorted order. alloc
// provides memory that stays valid until commit (bbolt keeps references to
// keys and values until then).
func (p *pending) flush(buckets *[numIndexes]*bolt.Bucket, alloc func(int) []byte) error {
	for i := range p {
		values := make([]string, 0, len(p[i]))
		for v := range p[i] {
			values = append(values, v)
		}
		sort.Strings(values)
		w := chunkWriter{b: buckets[i], c: buckets[i].Cursor(), alloc: alloc}
		for _, v := range values {
			if err := w.append(indexPrefix(v), p[i][v]); err != nil {
				return fmt.Errorf("index %s: %w", indexDefs[i].name, err)
			}
		}
		p[i] = nil
	}
	return nil
}

// chunkWriter appends postings to one index bucket.
type chunkWriter struct {
	b     *bolt.Bucket
	c     *bolt.Cursor
	alloc func(int) []byte
	// the chunk being extended
	prefix      []byte
	first, last uint64
	n           int
	val         []byte
	dirty       bool
}

// append adds ascending indexes to a value's list: into its last chunk
// while it has room, then into new chunks.
func (w *chunkWriter) append(prefix []byte, idxs []uint64) error {
	if err := w.loadLast(prefix); err != nil {
		return err
	}
	for _, x := range idxs {
		if w.n > 0 && x <= w.last {
			return fmt.Errorf("%w: index %d appended out of order", ErrCorrupt, x)
		}
		if w.n == postingsPerChunk {
			if err := w.put(); err != nil {
				return err
			}
			w.n, w.val = 0, w.val[:0]
		}
		if w.n == 0 {
			w.first, w.last = x, x
		}
		w.val = binary.AppendUvarint(w.val, x-w.last)
		w.last, w.dirty = x, true
		w.n++
	}
	return w.put()
}

// put writes the current chunk if it changed.
func (w *chunkWriter) put() error {
	if !w.dirty {
		return nil
	}
	w.dirty = false
	k := w.alloc(len(w.prefix) + 8)
	copy(k, w.prefix)
	binary.BigEndian.PutUint64(k[len(w.prefix):], w.first)
	v := w.alloc(len(w.val))
	copy(v, w.val)
	return w.b.Put(k, v)
}

// loadLast positions the writer on a value's last chunk, reading only its
// entry count and last entry.
func (w *chunkWriter) loadLast(prefix []byte) error {
	w.prefix, w.n, w.val, w.dirty = prefix, 0, w.val[:0], false
	k, v := w.c.Seek(chunkKey(prefix, ^uint64(0)))
	if k == nil {
		k, v = w.c.Last()
	} else if !isChunkOf(k, prefix) || keyIndex(k) != ^uint64(0) {
		k, v = w.c.Prev()
	}
	if !isChunkOf(k, prefix) {
		return nil
	}
	w.first = keyIndex(k)
	last, n, err := scanChunk(w.first, v)
	if err != nil {
		return err
	}
	w.last, w.n, w.val = last, n, append(w.val, v...)
	return nil
}

// scanChunk validates a chunk and returns its last entry and entry count
// without decoding it into memory.
func scanChunk(first uint64, v []byte) (uint64, int, error) {
	prev, n := first, 0
	for len(v) > 0 {
		d, m := binary.Uvarint(v)
		if m <= 0 || (n > 0 && d == 0) || (n == 0 && d != 0) || prev+d < prev {
			return 0, 0, fmt.Errorf("%w: malformed index chunk at %d", ErrCorrupt, first)
		}
		prev, n, v = prev+d, n+1, v[m:]
	}
	if n == 0 || n > postingsPerChunk {
		return 0, 0, fmt.Errorf("%w: index chunk at %d has %d entries", ErrCorrupt, first, n)
	}
	return prev, n, nil
}

func isChunkOf(k, prefix []byte) bool {
	return len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix)
}

// postingCursor walks one value's posting list.
type postingCursor struct {
	c      *bolt.Cursor
	prefix []byte
	key    []byte
	chunk  []uint64
	err    error
}

func newPostingCursor(b *bolt.Bucket, value string) *postingCursor {
	p := indexPrefix(value)
	return &postingCursor{c: b.Cursor(), prefix: p, key: make([]byte, len(p)+8), chunk: make([]uint64, 0, postingsPerChunk)}
}

// seek returns the first index >= cand in the list.
func (p *postingCursor) seek(cand uint64) (uint64, bool) {
	if idx, ok := p.inChunk(cand); ok {
		return idx, true
	}
	copy(p.key, p.prefix)
	binary.BigEndian.PutUint64(p.key[len(p.prefix):], cand)
	k, v := p.c.Seek(p.key)
	if !isChunkOf(k, p.prefix) || keyIndex(k) > cand {
		// The chunk holding cand, if any, starts before it.
		var pk, pv []byte
		if k == nil {
			pk, pv = p.c.Last()
		} else {
			pk, pv = p.c.Prev()
		}
		if isChunkOf(pk, p.prefix) && p.load(pk, pv) {
			if idx, ok := p.inChunk(cand); ok {
				return idx, true
			}
		}
		k, v = p.c.Seek(p.key)
	}
	if !isChunkOf(k, p.prefix) || !p.load(k, v) {
		return 0, false
	}
	return p.chunk[0], true
}

// inChunk answers from the loaded chunk when it spans cand.
func (p *postingCursor) inChunk(cand uint64) (uint64, bool) {
	n := len(p.chunk)
	if n == 0 || p.chunk[0] > cand || p.chunk[n-1] < cand {
		return 0, false
	}
	i := sort.Search(n, func(i int) bool { return p.chunk[i] >= cand })
	return p.chunk[i], true
}

func (p *postingCursor) load(k, v []byte) bool {
	chunk, err := decodeChunk(p.chunk, keyIndex(k), v)
	if err != nil {
		p.err, p.chunk = err, p.chunk[:0]
		return false
	}
	p.chunk = chunk
	return true
}
