package proto

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxKeptBuffer is the largest write buffer a queue keeps between writes.
const maxKeptBuffer = 1 << 20

// OutQueue collects frames from many goroutines (shard workers, the reader,
// session goroutines) for one writer goroutine, which writes everything
// queued since its last write in one call: under load, many responses share
// a write. Producers never block; the reader watches Pending to stop reading
// requests while too many responses wait. The server queues responses with
// it, the client requests.
type OutQueue struct {
	mu      sync.Mutex
	buf     []byte
	broken  bool // the writer failed; frames are discarded
	pending atomic.Int64
	wake    chan struct{}
	room    chan struct{}
	stop    chan struct{}
	done    chan struct{} // closed when the writer exits
	err     error         // the writer's error, read after done
}

// NewOutQueue returns an empty queue; start its writer with Run.
func NewOutQueue() *OutQueue {
	return &OutQueue{
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Push queues a copy of b and wakes the writer.
func (q *OutQueue) Push(b []byte) {
	if len(b) == 0 {
		return
	}
	q.mu.Lock()
	if !q.broken {
		q.buf = append(q.buf, b...)
		q.pending.Add(int64(len(b)))
	}
	q.mu.Unlock()
	q.Kick()
}

// AppendWith lets fn append frames to the queue in place, under the lock
// (the client's invoke path: no intermediate copy, and frames keep the order
// in which callers held the lock).
func (q *OutQueue) AppendWith(fn func([]byte) []byte) bool {
	q.mu.Lock()
	if q.broken {
		q.mu.Unlock()
		return false
	}
	n := len(q.buf)
	q.buf = fn(q.buf)
	q.pending.Add(int64(len(q.buf) - n))
	q.mu.Unlock()
	return true
}

// Kick wakes the writer (after AppendWith).
func (q *OutQueue) Kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Close asks the writer to write what is queued and exit.
func (q *OutQueue) Close() {
	select {
	case <-q.stop:
	default:
		close(q.stop)
	}
}

// Run is the writer loop. It returns after Close (with everything queued
// before it written) or on a write error, after which it closes w (so the
// reader ends too) and frames are dropped.
func (q *OutQueue) Run(w net.Conn, timeout time.Duration) {
	defer close(q.done)
	var spare []byte
	for {
		select {
		case <-q.wake:
		case <-q.stop:
			for {
				n, err := q.flush(w, &spare, timeout)
				if err != nil || n == 0 {
					q.fail(err)
					return
				}
			}
		}
		if _, err := q.flush(w, &spare, timeout); err != nil {
			q.fail(err)
			_ = w.Close()
			return
		}
	}
}

// flush swaps the queue's buffer with spare and writes it.
func (q *OutQueue) flush(w net.Conn, spare *[]byte, timeout time.Duration) (int, error) {
	q.mu.Lock()
	b := q.buf
	q.buf = (*spare)[:0]
	q.mu.Unlock()
	*spare = b
	if len(b) == 0 {
		return 0, nil
	}
	if timeout > 0 {
		_ = w.SetWriteDeadline(time.Now().Add(timeout))
	}
	_, err := w.Write(b)
	q.pending.Add(-int64(len(b)))
	if cap(b) > maxKeptBuffer {
		*spare = nil // a burst's buffer is not kept for the connection's life
	}
	select {
	case q.room <- struct{}{}:
	default:
	}
	return len(b), err
}

func (q *OutQueue) fail(err error) {
	q.mu.Lock()
	q.broken, q.err, q.buf = true, err, nil
	q.mu.Unlock()
}

// Pending is the bytes queued and not yet written.
func (q *OutQueue) Pending() int64 { return q.pending.Load() }

// Room receives after each write, so a reader waiting for Pending to drop
// can look again.
func (q *OutQueue) Room() <-chan struct{} { return q.room }

// Done is closed when the writer has exited.
func (q *OutQueue) Done() <-chan struct{} { return q.done }
