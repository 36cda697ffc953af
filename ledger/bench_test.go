package ledger

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

// benchEvent is a realistic PolicyDecision: one of 1000 agents in one of
// 10 tenants invoking one of 50 capabilities.
func benchEvent(i int) event.Event {
	d := policy.Allow
	if i%5 == 0 {
		d = policy.Deny
	}
	e := decision(fmt.Sprintf("agent-%04d", i%1000), fmt.Sprintf("tenant-%d", i%10),
		fmt.Sprintf("svc%d.op%d", i%5, i%10), d, "")
	e.Correlation = fmt.Sprintf("req-%d", i/8)
	return e
}

func benchBatch(start, n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = benchEvent(start + i)
	}
	return out
}

// BenchmarkAppendBatch512 appends batches of 512 events, one transaction
// and one fsync per batch. One op is one batch.
func BenchmarkAppendBatch512(b *testing.B) { benchAppend(b, Options{}) }

// BenchmarkAppendBatch512NoSync is the same without fsync: the CPU cost.
func BenchmarkAppendBatch512NoSync(b *testing.B) { benchAppend(b, Options{NoSync: true}) }

func benchAppend(b *testing.B, opts Options) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 512
	batches := make([][]event.Event, 64)
	for i := range batches {
		batches[i] = benchBatch(i*n, n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := s.AppendBatch(batches[i%len(batches)], AppendOptions{Time: t0 + int64(i)}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMerkleAppend is the Merkle part of an append: the leaf hash of
// an event's canonical bytes and the compact-range update with every
// completed node handed to the store. One op is one event.
func BenchmarkMerkleAppend(b *testing.B) {
	e := benchEvent(1)
	e.Normalize()
	raw, _ := e.MarshalCanonical()
	rng := rangeFactory.NewEmptyRange(0)
	var sink int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw[len(raw)-1] = byte(i)
		if err := appendLeaf(rng, LeafHash(raw), func(_ compact.NodeID, h []byte) error {
			sink += len(h)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	_ = sink
}

const bigN = 1 << 20

var (
	bigOnce  sync.Once
	bigStore *Store
	bigDir   string
	bigErr   error
)

// bigLedger builds a 1,048,576-event ledger once per test process (in
// batches of 4096, without fsync: building it is not what is measured).
func bigLedger(b *testing.B) *Store {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "cnv-ledger-bench-")
		if bigErr != nil {
			return
		}
		bigStore, bigErr = Open(filepath.Join(bigDir, "state.db"), Options{NoSync: true})
		for i := 0; bigErr == nil && i < bigN; i += 4096 {
			_, bigErr = bigStore.AppendBatch(benchBatch(i, 4096), AppendOptions{Time: t0 + int64(i)}, nil)
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigStore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigStore != nil {
		bigStore.Close()
	}
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// BenchmarkInclusionProof1M: an inclusion proof for a random event in the
// full 1M-event tree.
func BenchmarkInclusionProof1M(b *testing.B) {
	s := bigLedger(b)
	rng := rand.New(rand.NewSource(1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.InclusionProof(uint64(rng.Intn(bigN)), bigN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistencyProof1M: a consistency proof between a random size
// and the full 1M-event tree.
func BenchmarkConsistencyProof1M(b *testing.B) {
	s := bigLedger(b)
	rng := rand.New(rand.NewSource(1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ConsistencyProof(uint64(1+rng.Intn(bigN-1)), bigN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryByAgent1M: the first page of 100 events of one agent (each
// of the 1000 agents has 1,048 events) in the 1M-event ledger.
func BenchmarkQueryByAgent1M(b *testing.B) {
	s := bigLedger(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.Query(Query{Actor: fmt.Sprintf("agent-%04d", i%1000), Limit: 100})
		if err != nil || len(p.Events) != 100 {
			b.Fatalf("%v %d", err, len(p.Events))
		}
	}
}

// BenchmarkQueryCombined1M: agent AND decision AND a time window.
func BenchmarkQueryCombined1M(b *testing.B) {
	s := bigLedger(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := Query{Actor: fmt.Sprintf("agent-%04d", i%1000), Decision: policy.Deny, Since: t0 + bigN/2, Limit: 100}
		if _, err := s.Query(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify1M verifies the whole 1M-event ledger; one op is one full
// verification.
func BenchmarkVerify1M(b *testing.B) {
	s := bigLedger(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := s.Verify(VerifyOptions{})
		if err != nil || !rep.OK {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/bigN, "ns/event")
}

// BenchmarkVerify1MStructure adds bbolt's page-structure check, as the CLI
// does by default.
func BenchmarkVerify1MStructure(b *testing.B) {
	s := bigLedger(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := s.Verify(VerifyOptions{Structure: true})
		if err != nil || !rep.OK {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/bigN, "ns/event")
}
