package hotlease

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// fakeNode records proposals; fail makes Propose fail.
type fakeNode struct {
	mu    sync.Mutex
	cmds  []fsm.Command
	fail  bool
	calls int
}

func (n *fakeNode) ID() string { return "n1" }
func (n *fakeNode) PublicKey() ed25519.PublicKey {
	return make(ed25519.PublicKey, ed25519.PublicKeySize)
}
func (n *fakeNode) FSM() *fsm.FSM { return nil }
func (n *fakeNode) Propose(_ context.Context, cmds []fsm.Command) ([]fsm.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	if n.fail {
		return nil, errors.New("no leader")
	}
	n.cmds = append(n.cmds, cmds...)
	return make([]fsm.Result, len(cmds)), nil
}

func testBatch(key string, shard int, number, count uint64, final bool) hotpath.Batch {
	b := hotpath.Batch{Key: key, Shard: shard, Number: number, Count: count, OK: count, FirstNanos: 10, LastNanos: 20, Final: final}
	b.Digest[0], b.Prev[0] = byte(number), byte(number-1)
	return b
}

func TestRecorderCommitsValidEvents(t *testing.T) {
	n := &fakeNode{}
	r := NewRecorder(n, nil, 0)
	r.Sink(testBatch("cert_a", 0, 1, 5, false))
	r.Sink(testBatch("cert_b", 1, 1, 7, false))
	r.Sink(testBatch("cert_a", 0, 2, 0, false)) // nothing ran: skipped
	r.Sink(testBatch("cert_a", 0, 2, 0, true))  // a quiet close: the chain's end is kept
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(n.cmds) != 1 || n.cmds[0].Kind != fsm.KindHotBatch {
		t.Fatalf("%+v", n.cmds)
	}
	b := n.cmds[0].HotBatch.Batch
	if ev := (event.Event{Actor: b.NodeID, Data: b}); ev.Validate() != nil {
		t.Fatalf("invalid event: %v", ev.Validate())
	}
	if b.Total != 12 || len(b.Sessions) != 3 || len(b.Shards) != 2 || b.Shards[1].Count != 7 || !b.Sessions[2].Final {
		t.Fatalf("%+v", b)
	}
	h := sha256.New()
	h.Write([]byte(BatchDigestDomain))
	for _, s := range b.Sessions {
		d, _ := hex.DecodeString(s.Digest)
		h.Write(d)
	}
	if b.Digest != hex.EncodeToString(h.Sum(nil)) {
		t.Fatal("event digest is not the digest of its session digests")
	}
	if st := r.Stats(); st.Committed != 12 || st.Events != 1 || st.Pending != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestRecorderKeepsBatchesUntilCommitted(t *testing.T) {
	n := &fakeNode{fail: true}
	r := NewRecorder(n, nil, 0)
	for i := 0; i < limits.MaxHotPathSessions+10; i++ {
		r.Sink(testBatch("cert_a", 0, uint64(i+1), 1, false))
	}
	if err := r.Flush(context.Background()); err == nil || r.Stats().Pending != limits.MaxHotPathSessions+10 {
		t.Fatalf("failed commit lost batches: %v %+v", err, r.Stats())
	}
	n.fail = false
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Two events: one full, one with the rest, in order.
	if len(n.cmds) != 2 || len(n.cmds[0].HotBatch.Batch.Sessions) != limits.MaxHotPathSessions ||
		n.cmds[1].HotBatch.Batch.Sessions[0].Number != limits.MaxHotPathSessions+1 || r.Stats().Committed != uint64(limits.MaxHotPathSessions+10) {
		t.Fatalf("%d events, stats %+v", len(n.cmds), r.Stats())
	}
}

func BenchmarkRecorderSink(b *testing.B) {
	r := NewRecorder(&fakeNode{}, nil, 0)
	bt := testBatch("cert_0123456789abcdef01234567", 0, 1, 64, false)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Sink(bt)
		if i%1024 == 1023 {
			r.mu.Lock()
			r.pending = r.pending[:0]
			r.mu.Unlock()
		}
	}
}
