package hotpath

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxRetryPark caps how long a worker with retries pending sleeps before
// it reads the clock again: due times come from the Clock (which may be
// stepped, or a fake in tests) while the timer runs on the monotonic clock.
const maxRetryPark = 10 * time.Millisecond

// invocation is what a submission copies into a shard's queue slot. The
// padding makes a slot (8-byte sequence + invocation) exactly one cache
// line, so a producer filling one slot never shares a line with the worker
// draining the previous one.
type invocation struct {
	s    *Session
	seq  uint64
	args []byte
	_    [16]byte
}

type ctlKind uint8

const (
	opCut ctlKind = iota
	opClose
)

// ctlOp is an out-of-band request to a shard's worker.
type ctlOp struct {
	kind ctlKind
	s    *Session
	done chan struct{}
}

// shard is one queue and the worker goroutine that drains it. Fields are
// grouped by who writes them: producers, the published call word, and the
// worker alone.
type shard struct {
	// Written by producers.
	q        *Ring[invocation]
	sleeping atomic.Bool
	rejected atomic.Uint64
	_        [cacheLine]byte

	// Published by the worker, read by the watchdog and Stop.
	cur      atomic.Uint64
	stopping atomic.Bool
	aborting atomic.Bool
	_        [cacheLine]byte

	d      *Dispatcher
	id     int
	wake   chan struct{}
	exited chan struct{}
	pub    pubCounts

	ctlMu     sync.Mutex
	ctl       []ctlOp
	ctlFlag   atomic.Bool
	ctlExited bool

	// Worker-owned.
	w shardWork
}

// shardWork is the state only the worker goroutine touches.
type shardWork struct {
	cctx         callCtx
	call         Call
	comp         Completion
	entry        Entry
	inv          invocation
	gen          uint64
	run          uint64
	now          int64
	counts       workerCounts
	retries      retryHeap
	timer        *time.Timer
	runDirty     []*Session
	batchDirty   []*Session
	pendingClose []ctlOp
	ctlBuf       []ctlOp
}

func newShard(d *Dispatcher, id int) *shard {
	sh := &shard{
		q: NewRing[invocation](d.cfg.QueueDepth), d: d, id: id,
		wake: make(chan struct{}, 1), exited: make(chan struct{}),
	}
	sh.w.cctx.sh = sh
	sh.w.retries = newRetryHeap(d.cfg.QueueDepth)
	sh.w.timer = time.NewTimer(time.Hour)
	sh.w.timer.Stop()
	return sh
}

// signal wakes the worker if it is parked. Producers call it after a push.
func (sh *shard) signal() {
	if sh.sleeping.Load() && sh.sleeping.CompareAndSwap(true, false) {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

// enqueue posts a control op; false when the worker has exited.
func (sh *shard) enqueue(op ctlOp) bool {
	sh.ctlMu.Lock()
	if sh.ctlExited {
		sh.ctlMu.Unlock()
		return false
	}
	sh.ctl = append(sh.ctl, op)
	sh.ctlFlag.Store(true)
	sh.ctlMu.Unlock()
	sh.signal()
	return true
}

func (sh *shard) beginStop() {
	sh.q.Close()
	sh.stopping.Store(true)
	sh.signal()
}

func (sh *shard) abort() {
	sh.aborting.Store(true)
	sh.w.cctx.cancel(sh.cur.Load())
	sh.signal()
}

// loop is the worker goroutine.
func (sh *shard) loop() {
	defer close(sh.exited)
	for {
		sh.beginRun()
		n := sh.runRetries()
		n += sh.drain()
		sh.endRun()
		sh.control()
		if n > 0 {
			continue
		}
		if sh.finished() {
			sh.exit()
			return
		}
		sh.idle()
	}
}

func (sh *shard) beginRun() {
	w := &sh.w
	w.run++
	w.now = sh.d.clock.Now().UnixNano()
	if l := sh.q.Len(); l > w.counts.peak {
		w.counts.peak = l
	}
}

// drain runs up to RunLength queued invocations and then publishes the
// queue position once.
func (sh *shard) drain() int {
	w := &sh.w
	pos := sh.q.consumerPos()
	n := 0
	for n < RunLength && sh.q.popAt(pos, &w.inv) {
		pos++
		sh.execute(&w.inv, 1)
		n++
	}
	if n > 0 {
		sh.q.commitHead(pos)
	}
	w.inv = invocation{}
	return n
}

// runRetries runs the retries that are due (all of them when aborting).
func (sh *shard) runRetries() int {
	w := &sh.w
	n := 0
	for n < RunLength && w.retries.len() > 0 && (w.retries.peekDue() <= w.now || sh.aborting.Load()) {
		r := w.retries.pop()
		sh.executeRetry(&r)
		n++
	}
	return n
}

func (sh *shard) executeRetry(r *pendingRetry) {
	if sh.aborting.Load() {
		sh.complete(&r.inv, r.attempt-1, OutcomeAborted, ErrAborted)
		return
	}
	sh.execute(&r.inv, r.attempt)
}

// execute runs one attempt and completes the invocation or schedules its
// next attempt.
func (sh *shard) execute(inv *invocation, attempt int) {
	if sh.aborting.Load() {
		sh.complete(inv, attempt-1, OutcomeAborted, ErrAborted)
		return
	}
	w := &sh.w
	e := inv.s.ent
	w.gen++
	word := callWord(w.gen, inv.s.ctx.CapIndex)
	w.cctx.publish(word)
	if sh.d.wd.parked.Load() {
		sh.d.wd.notify()
	}
	w.cctx.hasDL = e.timeout > 0
	if w.cctx.hasDL {
		w.cctx.deadline = time.Unix(0, w.now+e.timeout)
	}
	c := &w.call
	c.Ctx, c.Key, c.Seq, c.Args, c.Attempt, c.Out = inv.s.ctx, inv.s.key, inv.seq, inv.args, attempt, c.Out[:0]
	err := sh.invoke(e.h)
	out, err := sh.classify(err)
	if out == OutcomeFailed && e.retry && sh.scheduleRetry(inv, attempt, err) {
		return
	}
	sh.complete(inv, attempt, out, err)
}

// invoke calls the handler, turning a panic into ErrHandlerPanic.
func (sh *shard) invoke(h Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sh.w.counts.panics++
			err = fmt.Errorf("%w: %v", ErrHandlerPanic, r)
		}
	}()
	return h(&sh.w.cctx, &sh.w.call)
}

// classify maps a handler's result and the cancel bit to an outcome.
func (sh *shard) classify(err error) (Outcome, error) {
	if sh.cur.Load()&cancelBit != 0 {
		if sh.aborting.Load() {
			return OutcomeAborted, ErrAborted
		}
		return OutcomeDeadlineExceeded, ErrDeadline
	}
	if err != nil {
		return OutcomeFailed, err
	}
	return OutcomeOK, nil
}

// scheduleRetry queues the next attempt if the policy allows one and the
// error is retryable; false means complete now.
func (sh *shard) scheduleRetry(inv *invocation, attempt int, err error) bool {
	w := &sh.w
	if !Retryable(err) || w.retries.full() || sh.aborting.Load() {
		return false
	}
	seed := inv.s.seed ^ inv.seq
	delay, ok := inv.s.ent.spec.Retry.JitteredDelay(attempt, seed)
	if !ok {
		return false
	}
	w.retries.push(pendingRetry{due: w.now + int64(delay), inv: *inv, attempt: attempt + 1, lastErr: err})
	w.counts.retried++
	return true
}

// complete records an invocation's outcome: counters, limits, batch digest,
// the session's sink.
func (sh *shard) complete(inv *invocation, attempts int, out Outcome, err error) {
	w := &sh.w
	s := inv.s
	s.tenantLim.release()
	s.ent.global.release()
	w.counts.byOutcome[out]++
	if !s.batch.disabled {
		sh.record(s, inv, attempts, out)
	}
	c := &w.comp
	c.Seq, c.Outcome, c.Attempts, c.Err, c.Output = inv.seq, out, attempts, err, nil
	if out != OutcomeAborted {
		c.Output = w.call.Out
	}
	s.sink.Complete(s, c)
	c.Err, c.Output = nil, nil
	s.done++
	if s.runMark != w.run {
		s.runMark = w.run
		w.runDirty = append(w.runDirty, s)
	}
}

// record adds the invocation to its session's open batch.
func (sh *shard) record(s *Session, inv *invocation, attempts int, out Outcome) {
	w := &sh.w
	e := &w.entry
	e.Seq, e.Outcome, e.Attempts, e.Args = inv.seq, out, uint32(attempts), inv.args
	if s.batch.count == 0 && !s.inBatchDirty {
		s.inBatchDirty = true
		w.batchDirty = append(w.batchDirty, s)
	}
	s.batch.add(e, w.now, s.key, s.ctx)
	e.Args = nil
	if m := sh.d.cfg.BatchMaxCount; m > 0 && s.batch.count >= m {
		sh.emit(s, false)
	}
}

// emit cuts s's open batch and hands it to the sink.
func (sh *shard) emit(s *Session, final bool) {
	b := s.batch.cut(s.key, s.ctx, sh.id, final)
	sh.d.cfg.BatchSink(b)
}

// endRun publishes completion counts and counters and flushes the sinks
// that received completions in this run.
func (sh *shard) endRun() {
	w := &sh.w
	if len(w.runDirty) == 0 {
		return
	}
	for i, s := range w.runDirty {
		s.completed.Store(s.done)
		s.sink.Flush(s)
		w.runDirty[i] = nil
	}
	w.runDirty = w.runDirty[:0]
	sh.pub.publish(&w.counts)
}

// control handles posted ops and pending session closes.
func (sh *shard) control() {
	w := &sh.w
	if sh.ctlFlag.Load() {
		sh.ctlMu.Lock()
		w.ctlBuf = append(w.ctlBuf[:0], sh.ctl...)
		clear(sh.ctl)
		sh.ctl = sh.ctl[:0]
		sh.ctlFlag.Store(false)
		sh.ctlMu.Unlock()
		for i := range w.ctlBuf {
			sh.apply(w.ctlBuf[i])
			w.ctlBuf[i] = ctlOp{}
		}
	}
	if len(w.pendingClose) > 0 {
		sh.closeReady(false)
	}
}

func (sh *shard) apply(op ctlOp) {
	switch op.kind {
	case opCut:
		sh.cutAll()
		close(op.done)
	case opClose:
		sh.w.pendingClose = append(sh.w.pendingClose, op)
	}
}

// cutAll emits every session's non-empty open batch.
func (sh *shard) cutAll() {
	w := &sh.w
	for i, s := range w.batchDirty {
		if s.batch.count > 0 {
			sh.emit(s, false)
		}
		s.inBatchDirty = false
		w.batchDirty[i] = nil
	}
	w.batchDirty = w.batchDirty[:0]
}

// closeReady finishes the pending closes whose sessions have nothing in
// flight (all of them when force is set, at exit).
func (sh *shard) closeReady(force bool) {
	w := &sh.w
	keep := w.pendingClose[:0]
	for _, op := range w.pendingClose {
		if !force && op.s.done != op.s.submitted.Load() {
			keep = append(keep, op)
			continue
		}
		sh.finishClose(op.s)
		close(op.done)
	}
	clear(w.pendingClose[len(keep):])
	w.pendingClose = keep
}

func (sh *shard) finishClose(s *Session) {
	if !s.batch.disabled {
		sh.emit(s, true)
	}
	if s.inBatchDirty {
		w := &sh.w
		for i, x := range w.batchDirty {
			if x == s {
				last := len(w.batchDirty) - 1
				w.batchDirty[i] = w.batchDirty[last]
				w.batchDirty[last] = nil
				w.batchDirty = w.batchDirty[:last]
				break
			}
		}
		s.inBatchDirty = false
	}
	s.completed.Store(s.done)
	sh.d.dropTenantLimiter(s.ctx.Tenant, s.ent)
}

func (sh *shard) finished() bool {
	return sh.stopping.Load() && sh.q.Empty() && sh.w.retries.len() == 0
}

// hasWork is what ends an idle spin.
func (sh *shard) hasWork() bool {
	if !sh.q.Empty() || sh.ctlFlag.Load() {
		return true
	}
	return sh.stopping.Load() && (sh.w.retries.len() == 0 || sh.aborting.Load())
}

// idle spins briefly, then parks until a producer, a control op, Stop or
// the next due retry wakes it.
func (sh *shard) idle() {
	sh.w.cctx.publish(0)
	for i := 0; i < sh.d.cfg.IdleSpin; i++ {
		if sh.hasWork() {
			return
		}
		if i&15 == 15 {
			runtime.Gosched()
		}
	}
	sh.sleeping.Store(true)
	if sh.hasWork() {
		sh.sleeping.Store(false)
		return
	}
	var due <-chan time.Time
	if sh.w.retries.len() > 0 {
		d := time.Duration(sh.w.retries.peekDue() - sh.d.clock.Now().UnixNano())
		if d <= 0 {
			sh.sleeping.Store(false)
			return
		}
		sh.w.timer.Reset(min(d, maxRetryPark))
		due = sh.w.timer.C
	}
	select {
	case <-sh.wake:
	case <-due:
	}
	sh.w.timer.Stop()
	sh.sleeping.Store(false)
}

// exit finishes everything still open and stops accepting control ops.
func (sh *shard) exit() {
	sh.w.cctx.publish(0)
	sh.ctlMu.Lock()
	sh.ctlExited = true
	sh.ctlMu.Unlock()
	sh.control()
	sh.closeReady(true)
	if sh.d.cfg.BatchSink != nil {
		sh.cutAll()
	}
	sh.pub.publish(&sh.w.counts)
}
