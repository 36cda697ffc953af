package hotpath

// pendingRetry is an invocation waiting for its next attempt.
type pendingRetry struct {
	due     int64 // unix nanoseconds
	order   uint64
	inv     invocation
	attempt int // the attempt to run next
	lastErr error
}

// retryHeap is a bounded min-heap on (due, order), preallocated so that
// scheduling a retry allocates nothing. Only the shard worker touches it.
type retryHeap struct {
	items []pendingRetry
	next  uint64
}

func newRetryHeap(capacity int) retryHeap {
	return retryHeap{items: make([]pendingRetry, 0, capacity)}
}

func (h *retryHeap) len() int   { return len(h.items) }
func (h *retryHeap) full() bool { return len(h.items) == cap(h.items) }

func (h *retryHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	return a.due < b.due || (a.due == b.due && a.order < b.order)
}

// push adds r; the caller checks full first.
func (h *retryHeap) push(r pendingRetry) {
	r.order = h.next
	h.next++
	h.items = append(h.items, r)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// peekDue is the earliest due time; only valid when len() > 0.
func (h *retryHeap) peekDue() int64 { return h.items[0].due }

// pop removes and returns the earliest item.
func (h *retryHeap) pop() pendingRetry {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items[last] = pendingRetry{}
	h.items = h.items[:last]
	h.down(0)
	return top
}

func (h *retryHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
