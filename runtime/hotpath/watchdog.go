package hotpath

import (
	"sync/atomic"
	"time"
)

// watchdog cancels invocations that run past their timeout. It samples
// every shard's published word each tick; an invocation's start is the
// first tick that saw its word, so an invocation is never cancelled before
// it has run for its timeout and is cancelled at most one tick (plus
// scheduling delay) after. When every shard is idle it parks until a
// worker wakes it, so an idle dispatcher costs no CPU.
type watchdog struct {
	d      *Dispatcher
	tick   time.Duration
	seen   []uint64
	since  []int64
	parked atomic.Bool
	scans  atomic.Uint64 // completed scans, for tests and diagnostics
	wake   chan struct{}
	stop   chan struct{}
	exited chan struct{}
}

func newWatchdog(d *Dispatcher, tick time.Duration) *watchdog {
	n := len(d.shards)
	return &watchdog{
		d: d, tick: tick, seen: make([]uint64, n), since: make([]int64, n),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
	}
}

func (w *watchdog) run() {
	defer close(w.exited)
	t := time.NewTimer(w.tick)
	defer t.Stop()
	for {
		if !w.scan() && !w.park() {
			return
		}
		t.Reset(w.tick)
		select {
		case <-t.C:
		case <-w.stop:
			return
		}
	}
}

// scan checks every shard once and reports whether any was busy.
func (w *watchdog) scan() bool {
	now := w.d.clock.Now().UnixNano()
	busy := false
	for i, sh := range w.d.shards {
		word := sh.cur.Load()
		if word == 0 || word&cancelBit != 0 {
			w.seen[i] = 0
			busy = busy || word != 0
			continue
		}
		busy = true
		if word != w.seen[i] {
			w.seen[i], w.since[i] = word, now
			continue
		}
		if to := w.d.timeoutOf(word); to > 0 && now-w.since[i] >= to {
			sh.w.cctx.cancel(word)
		}
	}
	w.scans.Add(1)
	return busy
}

// park blocks until a worker reports activity; false on stop.
func (w *watchdog) park() bool {
	w.parked.Store(true)
	for _, sh := range w.d.shards {
		if sh.cur.Load() != 0 {
			w.parked.Store(false)
			return true
		}
	}
	select {
	case <-w.wake:
		return true
	case <-w.stop:
		return false
	}
}

// notify wakes a parked watchdog; workers call it when they leave idle.
func (w *watchdog) notify() {
	if w.parked.Load() && w.parked.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
