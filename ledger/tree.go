package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/runtime/limits"
)

// hasher is the RFC 6962 SHA-256 tree hasher (what verifiers use).
var hasher = rfc6962.DefaultHasher

// hashChildren is RFC 6962's interior hash, SHA-256(0x01 || l || r),
// computed without the reference hasher's intermediate allocations.
func hashChildren(l, r []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], l)
	copy(buf[1+sha256.Size:], r)
	sum := sha256.Sum256(buf[:])
	return sum[:]
}

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// LeafHash is the RFC 6962 leaf hash of an event's canonical bytes:
// SHA-256(0x00 || bytes).
func LeafHash(canonical []byte) []byte {
	out := make([]byte, sha256.Size)
	leafHashInto(out, canonical)
	return out
}

// leafHashInto writes the leaf hash of canonical into dst (32 bytes).
func leafHashInto(dst, canonical []byte) {
	h := sha256.New()
	h.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	h.Write(canonical)
	h.Sum(dst[:0])
}

// EmptyRoot is the root of the empty tree (SHA-256 of nothing).
func EmptyRoot() []byte { return hasher.EmptyRoot() }

// minStoredLevel is the lowest tree level kept in ledger.tree. Leaf hashes
// (level 0) are stored with their events, and a level-1 node is recomputed
// from its two leaves when a proof needs it: storing them would cost two
// writes per event for nodes that proofs rarely read.
const minStoredLevel = 2

func leafID(i uint64) compact.NodeID { return compact.NewNodeID(0, i) }

// Interior nodes of level >= minStoredLevel are stored in tiles. A tile
// holds tileHeight levels of one subtree whose root (one level above the
// tile) is not in it: 16 + 8 + 4 + 2 nodes, so that every sibling an
// inclusion path needs at those levels is in the same tile. A proof over a
// million events reads 5 tiles instead of 18 nodes, and a batch of 512
// events writes about a dozen tiles instead of 256 nodes. Tile (t, j)
// covers levels minStoredLevel+4t to minStoredLevel+4t+3 and, at its lowest
// level, nodes 16j to 16j+15. Slots of nodes that do not exist yet are zero.
const (
	tileHeight = 4
	tileSlots  = 16 + 8 + 4 + 2
	tileBytes  = tileSlots * sha256.Size
)

// tileBase is the first slot of each level inside a tile.
var tileBase = [tileHeight]int{0, 16, 24, 28}

type tileKey [9]byte

// tileOf returns the tile holding a stored node and the node's slot in it.
func tileOf(id compact.NodeID) (tileKey, int) {
	l := id.Level - minStoredLevel
	rel := l % tileHeight
	width := uint64(1) << (tileHeight - rel)
	var k tileKey
	k[0] = byte(l / tileHeight)
	binary.BigEndian.PutUint64(k[1:], id.Index/width)
	return k, tileBase[rel] + int(id.Index%width)
}

// nodeSource returns tree node hashes (copies, safe after the transaction).
type nodeSource interface {
	node(id compact.NodeID) ([]byte, error)
}

// ledgerNodes reads nodes from a ledger: stored levels from tiles, lower
// levels recomputed from the leaf hashes stored with events. It keeps the
// last tile read, since a proof asks for consecutive levels of one path.
type ledgerNodes struct {
	tree, events *bolt.Bucket
	// pending, in a write transaction, holds tiles not yet written.
	pending *tileWriter
	// cache, for a store's reader, keeps complete upper tiles.
	cache *tileCache
	last  tileKey
	tile  []byte
	// group caches four consecutive leaf hashes starting at groupAt.
	group   [][]byte
	groupAt uint64
	// slab is memory the copies handed out are carved from.
	slab []byte
}

// own returns a copy of h carved from the reader's slab: a proof's 20-odd
// nodes cost one allocation, not one each.
func (n *ledgerNodes) own(h []byte) []byte {
	if len(n.slab)+len(h) > cap(n.slab) {
		n.slab = make([]byte, 0, max(len(h), 32*sha256.Size))
	}
	start := len(n.slab)
	n.slab = append(n.slab, h...)
	return n.slab[start:len(n.slab):len(n.slab)]
}

func (n *ledgerNodes) node(id compact.NodeID) ([]byte, error) {
	if id.Level < minStoredLevel {
		return n.lowNode(id)
	}
	k, slot := tileOf(id)
	if n.tile == nil || k != n.last {
		n.tile, n.last = n.readTile(k), k
	}
	h := n.tile[slot*sha256.Size : (slot+1)*sha256.Size]
	if isZero(h) {
		return nil, fmt.Errorf("%w: tree node (level %d, index %d) missing", ErrCorrupt, id.Level, id.Index)
	}
	return n.own(h), nil
}

// readTile returns a tile's bytes (all zero when absent or malformed).
func (n *ledgerNodes) readTile(k tileKey) []byte {
	if n.pending != nil {
		if v, ok := n.pending.tiles[k]; ok {
			return v
		}
	}
	if v := n.cache.get(k); v != nil {
		return v
	}
	v := n.tree.Get(k[:])
	if len(v) != tileBytes {
		return make([]byte, tileBytes)
	}
	n.cache.offer(k, v)
	return v
}

// tileCache keeps complete tiles of the upper levels (tile level >= 1,
// 1024 events or more below each) in memory for proofs: a complete tile
// never changes, and every proof crosses the few upper tiles of its tree,
// so a proof at 1M events reads one tile from the file instead of five.
// It holds at most limits.MaxCachedTiles (a nil cache holds none).
type tileCache struct {
	mu    sync.RWMutex
	tiles map[tileKey][]byte
}

func (c *tileCache) get(k tileKey) []byte {
	if c == nil || k[0] == 0 {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tiles[k]
}

// offer keeps a copy of tile v if it is complete and of an upper level.
// When full, a tile is dropped to make room (map order: any one will do,
// the cache's content never changes what is read).
func (c *tileCache) offer(k tileKey, v []byte) {
	if c == nil || k[0] == 0 {
		return
	}
	for i := 0; i < tileSlots; i++ {
		if isZero(v[i*sha256.Size : (i+1)*sha256.Size]) {
			return // at the tree's right edge: it will change
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tiles == nil {
		c.tiles = map[tileKey][]byte{}
	}
	if len(c.tiles) >= limits.MaxCachedTiles {
		for old := range c.tiles {
			delete(c.tiles, old)
			break
		}
	}
	c.tiles[k] = append([]byte(nil), v...)
}

func (c *tileCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tiles = nil
}

func isZero(h []byte) bool {
	for _, b := range h {
		if b != 0 {
			return false
		}
	}
	return true
}

// lowNode recomputes a level-0 or level-1 node from stored leaf hashes.
func (n *ledgerNodes) lowNode(id compact.NodeID) ([]byte, error) {
	begin, end := id.Coverage()
	var hashes [2][]byte
	for i := begin; i < end; i++ {
		h, err := n.leaf(i)
		if err != nil {
			return nil, err
		}
		hashes[i-begin] = h
	}
	if end-begin == 2 {
		return hashChildren(hashes[0], hashes[1]), nil
	}
	return hashes[0], nil
}

// leaf returns leaf hash i. It reads the aligned group of four leaves
// around i at once: an inclusion proof needs the leaf, its sibling and the
// two leaves of the sibling pair, all in that group.
func (n *ledgerNodes) leaf(i uint64) ([]byte, error) {
	g := i &^ 3
	if n.group == nil || n.groupAt != g {
		n.readGroup(g)
	}
	if h := n.group[i-g]; h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("%w: event %d missing or malformed", ErrCorrupt, i)
}

func (n *ledgerNodes) readGroup(g uint64) {
	if n.group == nil {
		n.group = make([][]byte, 4)
	}
	n.groupAt = g
	clear(n.group)
	c := n.events.Cursor()
	k, v := c.Seek(u64(g))
	for j := uint64(0); j < 4 && k != nil; j++ {
		if bytes.Equal(k, u64(g+j)) && len(v) >= sha256.Size {
			n.group[j] = n.own(v[:sha256.Size])
		}
		k, v = c.Next()
	}
}

// tileWriter collects a write transaction's node hashes into tiles and
// writes each touched tile once, before commit.
type tileWriter struct {
	tiles map[tileKey][]byte
}

func (w *tileWriter) set(tree *bolt.Bucket, id compact.NodeID, h []byte) {
	k, slot := tileOf(id)
	v, ok := w.tiles[k]
	if !ok {
		if w.tiles == nil {
			w.tiles = map[tileKey][]byte{}
		}
		v = make([]byte, tileBytes)
		copy(v, tree.Get(k[:]))
		w.tiles[k] = v
	}
	copy(v[slot*sha256.Size:], h)
}

// flush writes the touched tiles; alloc gives key memory valid until commit.
func (w *tileWriter) flush(tree *bolt.Bucket, alloc func(int) []byte) error {
	keys := make([]tileKey, 0, len(w.tiles))
	for k := range w.tiles {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	for _, k := range keys {
		kk := alloc(len(k))
		copy(kk, k[:])
		if err := tree.Put(kk, w.tiles[k]); err != nil {
			return fmt.Errorf("store tree tile: %w", err)
		}
	}
	w.tiles = nil
	return nil
}

func getNodes(src nodeSource, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := src.node(id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// loadRange rebuilds the compact range [0, size) from the perfect-subtree
// roots: at most 64 node reads.
func loadRange(src nodeSource, size uint64) (*compact.Range, error) {
	hashes, err := getNodes(src, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return rangeFactory.NewRange(0, size, hashes)
}

// appendLeaf adds a leaf hash to the compact range and passes, through
// put, the leaf and every perfect-subtree root it completes.
func appendLeaf(rng *compact.Range, leaf []byte, put func(id compact.NodeID, h []byte) error) error {
	var perr error
	err := rng.Append(leaf, func(id compact.NodeID, h []byte) {
		if perr == nil {
			perr = put(id, h)
		}
	})
	return firstErr(err, perr)
}

// rangeRoot is the RFC 6962 root of a compact range starting at 0.
func rangeRoot(r *compact.Range) []byte {
	if r.End() == 0 {
		return EmptyRoot()
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// rootAt computes the root of the tree's first size leaves in O(log size).
func rootAt(src nodeSource, size uint64) ([]byte, error) {
	r, err := loadRange(src, size)
	if err != nil {
		return nil, err
	}
	return rangeRoot(r), nil
}

// inclusionProof is the RFC 6962 inclusion proof of leaf index in the tree
// of the given size.
func inclusionProof(src nodeSource, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(src, nodes)
}

// consistencyProof is the RFC 6962 consistency proof between two sizes.
func consistencyProof(src nodeSource, from, to uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(src, nodes)
}

func rehash(src nodeSource, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := getNodes(src, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hashChildren)
}

func cloneRange(r *compact.Range) *compact.Range {
	hs := make([][]byte, len(r.Hashes()))
	copy(hs, r.Hashes())
	c, _ := rangeFactory.NewRange(r.Begin(), r.End(), hs)
	return c
}
