package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// argsFor makes distinct arguments of a random size for seq.
func argsFor(rng *rand.Rand, seq uint64) []byte {
	b := make([]byte, 8+rng.IntN(3000))
	binary.BigEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(seq) + byte(i)
	}
	return b
}

// Arguments are borrowed from read chunks until their invocation completes:
// across many chunk rotations (frames split between chunks), every echo
// answers exactly its own arguments.
func TestEchoIntegrityAcrossChunks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	n := newNode(t, nodeOpts{})
	_, s := n.open(EchoPath, capability.ReadOnly)
	const total = 20000 // about 30 MB: some 230 chunks
	sent := make([][]byte, total+1)
	var wg sync.WaitGroup
	wg.Add(total)
	fn := func(r *client.Result) {
		defer wg.Done()
		if r.Err != nil || !bytes.Equal(r.Output, sent[r.Seq]) {
			t.Errorf("seq %d: %v, %d bytes back for %d sent", r.Seq, r.Err, len(r.Output), len(sent[r.Seq]))
		}
	}
	var mu sync.Mutex // one submitter at a time: the k-th Submit is seq k
	for seq := uint64(1); seq <= total; seq++ {
		mu.Lock()
		sent[seq] = argsFor(rng, seq)
		err := s.Submit(sent[seq], fn)
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// When invocations in flight pin every chunk, the server stops reading the
// connection until they complete, then carries on: nothing is refused or
// lost.
func TestChunksPinnedByInflight(t *testing.T) {
	release := make(chan struct{})
	slow := capability.MustPath("hot.slow")
	n := newNode(t, nodeOpts{
		dispatcher: func(c *hotpath.Config) { c.Shards = 1 },
		register: func(n *node) {
			_, err := n.catalog.Register(n.disp, slow.ID(), slow, func(ctx context.Context, c *hotpath.Call) error {
				<-release
				c.Out = append(c.Out, c.Args[:8]...)
				return nil
			}, hotpath.Spec{Flags: capability.FlagReadOnly})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
	a := newAgent(t)
	c := n.dial(a, func(o *client.Options) { o.Window = 1024 })
	sess, err := c.OpenSession(ctx(t), n.issue(certSpec{path: slow, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub}))
	if err != nil {
		t.Fatal(err)
	}
	// More argument bytes than all of a connection's chunks hold.
	size := limits.MaxHotArgsBytes - 16
	total := limits.MaxHotConnChunks*limits.HotReadChunkBytes/size + 100
	var wg sync.WaitGroup
	wg.Add(total)
	go func() {
		testcluster.WaitFor(t, "the reader to run out of chunks", 10*time.Second, n.stalled(func(st Stats) uint64 { return st.ChunkStalls }))
		close(release)
	}()
	for seq := uint64(1); seq <= uint64(total); seq++ {
		args := make([]byte, size)
		binary.BigEndian.PutUint64(args, seq)
		if err := sess.Submit(args, func(r *client.Result) {
			defer wg.Done()
			if r.Err != nil || binary.BigEndian.Uint64(r.Output) != r.Seq {
				t.Errorf("seq %d: %v %x", r.Seq, r.Err, r.Output)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
