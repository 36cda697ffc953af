package ledger

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/transparency-dev/merkle/proof"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

// Readers running beside the writer see consistent snapshots: every proof
// they get verifies against the root reported with it, and the head only
// grows.
func TestConcurrentReadersAndWriter(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""))
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for !done.Load() {
				h := s.Head()
				if h.Size < last {
					errs <- errorf("head went back from %d to %d", last, h.Size)
					return
				}
				last = h.Size
				p, err := s.InclusionProof(h.Size/2, h.Size)
				if err == nil {
					err = proof.VerifyInclusion(hasher, p.Index, p.Size, p.LeafHash, Bytes(p.Proof), p.Root)
				}
				if err == nil && !bytes.Equal(p.Root, h.Root) {
					err = errorf("proof root differs from the head's at size %d", h.Size)
				}
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.Query(Query{Actor: "a", Limit: 10}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		batch := make([]event.Event, 1+i%150)
		for j := range batch {
			batch[j] = decision("a", "t", "user.read", policy.Allow, "")
		}
		mustAppend(t, s, AppendOptions{Time: t0 + int64(i)}, batch...)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
