package cluster

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
)

// notifyingFSM tells waiters when the FSM's applied index advances.
// It also measures each batch and counts its decisions.
type notifyingFSM struct {
	*fsm.FSM
	n *indexNotifier
	m *nodeMetrics
}

func (f *notifyingFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	start := time.Now()
	out := f.FSM.ApplyBatch(logs)
	f.m.applyDuration.Observe(time.Since(start).Seconds())
	f.m.countApplied(logs, out)
	if len(logs) > 0 {
		f.n.advance(logs[len(logs)-1].Index)
	}
	return out
}

func (f *notifyingFSM) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *notifyingFSM) Restore(rc io.ReadCloser) error {
	if err := f.FSM.Restore(rc); err != nil {
		return err
	}
	f.n.advance(f.FSM.AppliedIndex())
	return nil
}

// indexNotifier lets readers wait until an index has been applied.
type indexNotifier struct {
	mu      sync.Mutex
	index   uint64
	closed  bool
	waiters map[chan struct{}]uint64
}

func newIndexNotifier(start uint64) *indexNotifier {
	return &indexNotifier{index: start, waiters: map[chan struct{}]uint64{}}
}

func (n *indexNotifier) advance(i uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i <= n.index {
		return
	}
	n.index = i
	for ch, want := range n.waiters {
		if want <= i {
			close(ch)
			delete(n.waiters, ch)
		}
	}
}

func (n *indexNotifier) current() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.index
}

func (n *indexNotifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for ch := range n.waiters {
		close(ch)
		delete(n.waiters, ch)
	}
}

// wait blocks until index i is applied, ctx ends or the node stops.
func (n *indexNotifier) wait(ctx context.Context, i uint64) error {
	n.mu.Lock()
	if n.index >= i {
		n.mu.Unlock()
		return nil
	}
	if n.closed {
		n.mu.Unlock()
		return ErrShutdown
	}
	ch := make(chan struct{})
	n.waiters[ch] = i
	n.mu.Unlock()
	select {
	case <-ch:
		if n.current() >= i {
			return nil
		}
		return ErrShutdown
	case <-ctx.Done():
		n.mu.Lock()
		delete(n.waiters, ch)
		n.mu.Unlock()
		return ctx.Err()
	}
}
