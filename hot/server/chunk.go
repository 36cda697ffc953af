package server

import "sync/atomic"

// chunkBias keeps a chunk's reference count positive while the reader is
// still filling it, so workers can release invocations without the reader
// counting each submission atomically.
const chunkBias = int64(1) << 40

// chunk is a read buffer. The reader fills it once, front to back; the
// arguments of every invocation submitted from it are borrowed from it until
// the invocation completes. It returns to its pool when the reader has moved
// on and every such invocation has completed.
type chunk struct {
	buf  []byte
	refs atomic.Int64 // chunkBias - released while filling; subs - released after
	subs int64        // invocations submitted from it (reader-owned)
	pool *chunkPool
}

// release drops n invocations' references (shard workers).
func (c *chunk) release(n int64) {
	if c.refs.Add(-n) == 0 {
		c.pool.put(c)
	}
}

// retire drops the reader's hold once it reads into another chunk.
func (c *chunk) retire() {
	c.release(chunkBias - c.subs)
}

// chunkPool is a connection's bounded set of chunks.
type chunkPool struct {
	free   chan *chunk
	size   int
	made   int            // reader-owned
	stalls *atomic.Uint64 // counts waits for a chunk
}

func newChunkPool(size, max int, stalls *atomic.Uint64) *chunkPool {
	return &chunkPool{free: make(chan *chunk, max), size: size, stalls: stalls}
}

// get returns a chunk to fill: a free one, a new one while fewer than the
// maximum exist, or else it waits until one frees (or stop closes).
func (p *chunkPool) get(stop <-chan struct{}) (*chunk, bool) {
	select {
	case c := <-p.free:
		return c.reset(), true
	default:
	}
	if p.made < cap(p.free) {
		p.made++
		c := &chunk{buf: make([]byte, p.size), pool: p}
		return c.reset(), true
	}
	p.stalls.Add(1)
	select {
	case c := <-p.free:
		return c.reset(), true
	case <-stop:
		return nil, false
	}
}

// put never blocks: the channel holds every chunk the pool ever made.
func (p *chunkPool) put(c *chunk) { p.free <- c }

func (c *chunk) reset() *chunk {
	c.refs.Store(chunkBias)
	c.subs = 0
	return c
}
