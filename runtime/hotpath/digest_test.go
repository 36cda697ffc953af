package hotpath

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"testing"
	"time"
)

// runDigestScenario runs invocations on a fresh dispatcher and returns the
// batches cut at the end. Seqs with an odd value fail.
func runDigestScenario(t *testing.T, seqs []uint64) []Batch {
	t.Helper()
	cfg, _ := testConfig()
	br := &batchRec{}
	cfg.BatchSink = br.sink
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 2, func(ctx context.Context, c *Call) error {
		if c.Seq%2 == 1 {
			return errors.New("odd")
		}
		return nil
	}, plainSpec())
	sink := &recSink{}
	s, err := d.OpenSession(SessionOptions{Key: "cert-9", Agent: 11, Tenant: 22, CapIndex: 2,
		Correlation: CorrelationHash("corr"), Allowed: AllFlags, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range seqs {
		if err := s.Submit(q, []byte("arg-"+strconv.FormatUint(q, 10))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "completions", time.Second, func() bool { return sink.n() == len(seqs) })
	if err := d.Cut(context.Background()); err != nil {
		t.Fatal(err)
	}
	return br.all()
}

func expectedEntries(seqs []uint64) []Entry {
	var es []Entry
	for _, q := range seqs {
		out := OutcomeOK
		if q%2 == 1 {
			out = OutcomeFailed
		}
		es = append(es, Entry{Seq: q, Outcome: out, Attempts: 1, Args: []byte("arg-" + strconv.FormatUint(q, 10))})
	}
	return es
}

func TestDigestDeterministicAndVerifiable(t *testing.T) {
	seqs := []uint64{1, 2, 3, 4, 10, 11}
	a, b := runDigestScenario(t, seqs), runDigestScenario(t, seqs)
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("same invocations, different batches:\n%+v\n%+v", a, b)
	}
	got := a[0]
	if got.Key != "cert-9" || got.Number != 1 || got.Count != 6 || got.OK != 3 || got.Failed != 3 || got.Prev != (Digest{}) {
		t.Fatalf("batch %+v", got)
	}
	if got.FirstNanos != epoch.UnixNano() || got.LastNanos != epoch.UnixNano() {
		t.Fatalf("times %d %d", got.FirstNanos, got.LastNanos)
	}
	c := Context{Agent: 11, Tenant: 22, CapIndex: 2, Correlation: CorrelationHash("corr")}
	if want := BatchDigest(Digest{}, "cert-9", c, expectedEntries(seqs)); got.Digest != want {
		t.Fatalf("digest %x, recomputed %x", got.Digest, want)
	}
	swapped := []uint64{2, 1, 3, 4, 10, 11}
	if c := runDigestScenario(t, swapped); c[0].Digest == got.Digest {
		t.Fatal("order does not change the digest")
	}
}

func TestBatchDigestPinned(t *testing.T) {
	// Pins the entry encoding (cross-checked with Python hashlib over the
	// documented layout): changing it breaks every recorded batch.
	c := Context{CapIndex: 2, Agent: 3, Tenant: 4, Correlation: 5}
	long := bytes.Repeat([]byte("y"), 100) // past the single-Write scratch buffer
	d := BatchDigest(Digest{}, "cert", c, []Entry{
		{Seq: 1, Outcome: OutcomeOK, Attempts: 1, Args: []byte("x")},
		{Seq: 2, Outcome: OutcomeFailed, Attempts: 3, Args: long},
	})
	const want = "96271f74b359b61a1229e27a6d21496a16003cc9374ea636ac42e03325d92bcb"
	if got := hex.EncodeToString(d[:]); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	if BatchDigest(d, "cert", c, nil) == BatchDigest(Digest{}, "cert", c, nil) {
		t.Fatal("prev not chained")
	}
	if BatchDigest(Digest{}, "cert2", c, nil) == BatchDigest(Digest{}, "cert", c, nil) {
		t.Fatal("key not bound")
	}
	c2 := c
	c2.Agent++
	if BatchDigest(Digest{}, "cert", c2, nil) == BatchDigest(Digest{}, "cert", c, nil) {
		t.Fatal("agent not bound")
	}
}

func TestCutChainsBatchesWithoutStopping(t *testing.T) {
	cfg, _ := testConfig()
	cfg.Shards = 2
	br := &batchRec{}
	cfg.BatchSink = br.sink
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 0, echo, plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	other := openSession(t, d, "idle", 2, 0, sink)
	submitN := func(from, n int) {
		for i := from; i < from+n; i++ {
			for s.Submit(uint64(i), nil) != nil {
				waitFor(t, "room", time.Second, func() bool { return s.InFlight() < 32 })
			}
		}
		waitFor(t, "completions", time.Second, func() bool { return sink.n() == from+n })
	}
	submitN(0, 100)
	if err := d.Cut(context.Background()); err != nil {
		t.Fatal(err)
	}
	submitN(100, 50)
	if err := d.Cut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Cut(context.Background()); err != nil { // nothing ran: no batch
		t.Fatal(err)
	}
	bs := br.all()
	if len(bs) != 2 || bs[0].Count != 100 || bs[1].Count != 50 || bs[1].Number != 2 ||
		bs[1].Prev != bs[0].Digest || bs[0].Final || bs[1].Final {
		t.Fatalf("batches %+v", bs)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs = br.all()
	if len(bs) != 4 || !bs[2].Final || bs[2].Count != 0 || bs[2].Number != 3 || bs[2].Prev != bs[1].Digest {
		t.Fatalf("final batches %+v", bs)
	}
}

func TestBatchMaxCountCutsAutomatically(t *testing.T) {
	cfg, _ := testConfig()
	br := &batchRec{}
	cfg.BatchSink = br.sink
	cfg.BatchMaxCount = 10
	d := startDispatcher(t, cfg)
	mustRegister(t, d, 0, echo, plainSpec())
	sink := &recSink{}
	s := openSession(t, d, "k", 1, 0, sink)
	for i := 0; i < 35; i++ {
		if err := s.Submit(uint64(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "completions", time.Second, func() bool { return sink.n() == 35 })
	if err := d.Cut(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs := br.all()
	if len(bs) != 4 || bs[0].Count != 10 || bs[2].Count != 10 || bs[3].Count != 5 {
		t.Fatalf("batches %+v", bs)
	}
	var total uint64
	for i, b := range bs {
		total += b.Count
		if b.Number != uint64(i+1) || (i > 0 && b.Prev != bs[i-1].Digest) {
			t.Fatalf("chain broken at %d: %+v", i, b)
		}
	}
	if total != 35 {
		t.Fatalf("batches account for %d of 35", total)
	}
}

func TestStopCutsOpenBatches(t *testing.T) {
	cfg, _ := testConfig()
	br := &batchRec{}
	cfg.BatchSink = br.sink
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Start()
	mustRegister(t, d, 0, echo, plainSpec())
	s := openSession(t, d, "k", 1, 0, &recSink{})
	for i := 0; i < 7; i++ {
		_ = s.Submit(uint64(i), nil)
	}
	if _, err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bs := br.all(); len(bs) != 1 || bs[0].Count != 7 {
		t.Fatalf("batches at stop %+v", bs)
	}
	if err := d.Cut(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("cut after stop: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("close after stop: %v", err)
	}
}

func newSHA() hash.Hash { return sha256.New() }
