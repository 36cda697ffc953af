package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Equality indexes are posting lists: for each value, the ascending event
// indexes that have it, cut into chunks of postingsPerChunk entries and a
// tail of the rest. A full chunk is stored in the index's bucket under
// value || 0x00 || (its first index, 8 bytes big-endian) and never changes
// again; the tail (1 to postingsPerChunk-1 entries) in ledger.idx.tails
// under the index's number (1 byte) || value, as its first index (8 bytes
// big-endian) followed by the entries. Entries are unsigned varints: the
// first entry's offset from the first index (always 0), then the gap to
// each next entry.
//
// Appending rewrites only tails, and every index's tails sit together in
// one small bucket, so a batch touches those few pages plus one insert per
// chunk it fills, however long the lists grow. In the first layout each
// value's last, partial chunk was among the full ones, on a page of its
// own: a batch rewrote a page per distinct value in each of six buckets, a
// number that grew with the ledger. Chunks are filled in order, so the
// layout is a function of the sequence of events alone, not of how they
// were batched.
const postingsPerChunk = 128

// tailKey is the key of a value's tail in index i.
func tailKey(i int, value string) []byte {
	k := make([]byte, 0, 1+len(value))
	return append(append(k, byte(i)), value...)
}

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
// are written as chunks once, before commit. Consecutive events mostly
// share their values, so each index remembers its last value's list.
type pending struct {
	lists [numIndexes]map[string]*[]uint64
	last  [numIndexes]struct {
		value string
		list  *[]uint64
	}
}

func (p *pending) add(i int, value string, idx uint64) {
	l := &p.last[i]
	if l.list == nil || l.value != value {
		if p.lists[i] == nil {
			p.lists[i] = map[string]*[]uint64{}
		}
		list := p.lists[i][value]
		if list == nil {
			list = new([]uint64)
			p.lists[i][value] = list
		}
		l.value, l.list = value, list
	}
	*l.list = append(*l.list, idx)
}

// flush writes every pending posting, values in sorted order. alloc
// provides memory that stays valid until commit (bbolt keeps references to
// keys and values until then).
func (p *pending) flush(buckets *[numIndexes]*bolt.Bucket, tails *bolt.Bucket, alloc func(int) []byte) error {
	for i, lists := range p.lists {
		values := make([]string, 0, len(lists))
		for v := range lists {
			values = append(values, v)
		}
		sort.Strings(values)
		w := chunkWriter{b: buckets[i], c: buckets[i].Cursor(), tails: tails, index: i, alloc: alloc}
		for _, v := range values {
			if err := w.append(v, *lists[v]); err != nil {
				return fmt.Errorf("index %s: %w", indexDefs[i].name, err)
			}
		}
	}
	*p = pending{}
	return nil
}

// chunkWriter appends postings to one index bucket.
type chunkWriter struct {
	b     *bolt.Bucket // the index's full chunks
	c     *bolt.Cursor
	tails *bolt.Bucket
	index int
	alloc func(int) []byte
	val   []byte // the entries being written
}

// append adds ascending indexes to a value's list: to its tail, sealing
// the tail as a chunk of its own each time it fills.
func (w *chunkWriter) append(value string, idxs []uint64) error {
	prefix, tk := indexPrefix(value), tailKey(w.index, value)
	var first, last uint64
	n, known := 0, false
	w.val = w.val[:0]
	tv := w.tails.Get(tk)
	if tv != nil {
		var err error
		if first, last, n, err = scanTail(tv); err != nil {
			return err
		}
		w.val, known = append(w.val, tv[8:]...), true
	} else if k, v := w.lastChunk(prefix); k != nil {
		// No tail: the list, if any, ends with its last full chunk.
		var err error
		if last, _, err = scanChunk(keyIndex(k), v); err != nil {
			return err
		}
		known = true
	}
	for _, x := range idxs {
		if known && x <= last {
			return fmt.Errorf("%w: index %d appended out of order", ErrCorrupt, x)
		}
		if n == 0 {
			first, last = x, x
		}
		w.val = binary.AppendUvarint(w.val, x-last)
		last, known = x, true
		if n++; n == postingsPerChunk {
			if err := w.put(w.b, chunkKey(prefix, first), nil, w.val); err != nil {
				return err
			}
			n, w.val = 0, w.val[:0]
		}
	}
	switch {
	case n > 0:
		return w.put(w.tails, tk, binary.BigEndian.AppendUint64(nil, first), w.val)
	case tv != nil:
		return w.tails.Delete(tk)
	}
	return nil
}

// put writes key → head || entries in memory that lasts until commit.
func (w *chunkWriter) put(b *bolt.Bucket, key, head, entries []byte) error {
	k := w.alloc(len(key))
	copy(k, key)
	v := w.alloc(len(head) + len(entries))
	copy(v[copy(v, head):], entries)
	return b.Put(k, v)
}

// lastChunk finds a value's last full chunk (nil when it has none).
func (w *chunkWriter) lastChunk(prefix []byte) (k, v []byte) {
	k, v = w.c.Seek(chunkKey(prefix, ^uint64(0)))
	if k == nil {
		k, v = w.c.Last()
	} else if !isChunkOf(k, prefix) || keyIndex(k) != ^uint64(0) {
		k, v = w.c.Prev()
	}
	if !isChunkOf(k, prefix) {
		return nil, nil
	}
	return k, v
}

// scanTail validates a tail and returns its first and last entries and
// entry count.
func scanTail(v []byte) (first, last uint64, n int, err error) {
	if len(v) <= 8 {
		return 0, 0, 0, fmt.Errorf("%w: index tail of %d bytes", ErrCorrupt, len(v))
	}
	first = binary.BigEndian.Uint64(v)
	if last, n, err = scanChunk(first, v[8:]); err == nil && n >= postingsPerChunk {
		err = fmt.Errorf("%w: index tail at %d has %d entries", ErrCorrupt, first, n)
	}
	return first, last, n, err
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
	tails  *bolt.Bucket // nil in a file of the first layout
	index  int
	c      *bolt.Cursor
	value  string
	prefix []byte
	key    []byte
	chunk  []uint64 // the full chunk last loaded
	// tail is the list's tail, read on first need.
	tail       []uint64
	tailLoaded bool
	err        error
}

func newPostingCursor(b, tails *bolt.Bucket, index int, value string) *postingCursor {
	p := indexPrefix(value)
	return &postingCursor{tails: tails, index: index, c: b.Cursor(), value: value, prefix: p, key: make([]byte, len(p)+8),
		chunk: make([]uint64, 0, postingsPerChunk)}
}

// seek returns the first index >= cand in the list.
func (p *postingCursor) seek(cand uint64) (uint64, bool) {
	if idx, ok := p.inChunk(cand); ok {
		return idx, true
	}
	if p.tailLoaded && len(p.tail) > 0 && cand >= p.tail[0] {
		return p.inTail(cand) // every full chunk's entries are below the tail's
	}
	if idx, ok := p.seekChunks(cand); ok || p.err != nil {
		return idx, ok
	}
	p.loadTail()
	return p.inTail(cand)
}

// seekChunks looks for the first index >= cand in the full chunks.
func (p *postingCursor) seekChunks(cand uint64) (uint64, bool) {
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

// loadTail reads the list's tail once (none in a ledger of the first
// layout, whose last chunks are among the others).
func (p *postingCursor) loadTail() {
	if p.tailLoaded {
		return
	}
	p.tailLoaded = true
	if p.tails == nil {
		return
	}
	v := p.tails.Get(tailKey(p.index, p.value))
	if v == nil {
		return
	}
	if len(v) <= 8 {
		p.err = fmt.Errorf("%w: index tail of %d bytes", ErrCorrupt, len(v))
		return
	}
	tail, err := decodeChunk(make([]uint64, 0, postingsPerChunk), binary.BigEndian.Uint64(v), v[8:])
	if err == nil && len(tail) >= postingsPerChunk {
		err = fmt.Errorf("%w: index tail has %d entries", ErrCorrupt, len(tail))
	}
	if err != nil {
		p.err = err
		return
	}
	p.tail = tail
}

func (p *postingCursor) inTail(cand uint64) (uint64, bool) {
	i := sort.Search(len(p.tail), func(i int) bool { return p.tail[i] >= cand })
	if i == len(p.tail) {
		return 0, false
	}
	return p.tail[i], true
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
