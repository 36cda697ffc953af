package hotpath

import (
	"sort"
	"testing"
)

func TestRetryHeapOrdersByDueThenArrival(t *testing.T) {
	r := seededRand(t)
	for round := 0; round < 200; round++ {
		h := newRetryHeap(64)
		type item struct {
			due int64
			id  uint64
		}
		var want []item
		n := r.IntN(64) + 1
		for i := 0; i < n; i++ {
			due := int64(r.IntN(10)) // many ties
			h.push(pendingRetry{due: due, inv: invocation{seq: uint64(i)}})
			want = append(want, item{due, uint64(i)})
		}
		if !h.full() && n == 64 {
			t.Fatal("full")
		}
		sort.SliceStable(want, func(i, j int) bool { return want[i].due < want[j].due })
		for i, w := range want {
			if h.peekDue() != w.due {
				t.Fatalf("round %d item %d: peek %d want %d", round, i, h.peekDue(), w.due)
			}
			got := h.pop()
			if got.due != w.due || got.inv.seq != w.id {
				t.Fatalf("round %d item %d: got (%d,%d) want (%d,%d)", round, i, got.due, got.inv.seq, w.due, w.id)
			}
		}
		if h.len() != 0 {
			t.Fatal("not empty")
		}
	}
}
