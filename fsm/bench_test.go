package fsm

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/runtime/invocation"
)

// benchEntries encodes the entries of invocations first to first+count-1,
// n per entry, as a leader would propose them (request ids r0, r1, ...).
func benchEntries(h *harness, first, count, n int) []*raft.Log {
	var logs []*raft.Log
	for done := first; done < first+count; done += n {
		cmds := make([]Command, n)
		for i := range cmds {
			cmds[i] = Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{
				Capability: "bench.run", RequestID: fmt.Sprintf("r%d", done+i),
				Args: []invocation.Arg{{Name: "n", Value: fmt.Sprint(done + i)}}}}}
		}
		h.index++
		h.now += 1000
		env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
		data, err := env.Encode()
		if err != nil {
			h.t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: h.index, Type: raft.LogCommand, Data: data})
	}
	return logs
}

// BenchmarkApplyInvocations applies entries of n admin invocations (one
// bbolt transaction per entry, as raft hands them over under load): what
// each replica does per entry, from decoding it to committing it. The
// entries are encoded before the clock starts (proposing is the leader's
// work, once). ns/op and cpu-ns/op (the process's CPU time, steadier on a
// shared machine) are per invocation.
func BenchmarkApplyInvocations(b *testing.B) {
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("per-entry=%d", n), func(b *testing.B) {
			h := newHarness(b)
			h.adminInvoke(CapCapabilityRegister, []byte(`{"capabilities":[{"path":"bench.run","effects":["read_only"]}]}`))
			logs := benchEntries(h, 0, b.N, n)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for _, l := range logs {
				h.f.ApplyBatch([]*raft.Log{l})
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

var growthEvents = flag.Int("growth.events", 0, "BenchmarkApplyGrowth: invocations to apply (64 per entry); 0 skips it")

// BenchmarkApplyGrowth applies -growth.events invocations, 64 per entry,
// to an empty ledger and compares the cost per invocation of the first,
// the middle and the last 64,000 (ns and cpu-ns, "start-", "mid-" and
// "end-"), and
// reports the file's size per event at the end (state.db: events, tree,
// indexes, the request-id table, free pages). It is skipped unless the
// flag is given; run it once:
//
//	go test ./fsm -run '^$' -bench ApplyGrowth -benchtime 1x -growth.events=1000000
func BenchmarkApplyGrowth(b *testing.B) {
	total := *growthEvents
	if total < 3*64000 {
		b.Skip("set -growth.events (at least 192000)")
	}
	const n, window = 64, 64000
	h := newHarness(b)
	h.adminInvoke(CapCapabilityRegister, []byte(`{"capabilities":[{"path":"bench.run","effects":["read_only"]}]}`))
	b.ResetTimer()
	type cost struct{ wall, cpu time.Duration }
	measure := func(from, count int) cost {
		var c cost
		for done := from; done < from+count; done += 64 * n {
			logs := benchEntries(h, done, min(64*n, from+count-done), n)
			start, cpu := time.Now(), cpuTime()
			for _, l := range logs {
				h.f.ApplyBatch([]*raft.Log{l})
			}
			c.wall += time.Since(start)
			c.cpu += time.Duration(cpuTime() - cpu)
		}
		return c
	}
	first := measure(0, window)
	mid0 := max(window, total/2-window/2)
	measure(window, mid0-window)
	mid := measure(mid0, window)
	measure(mid0+window, total-window-(mid0+window))
	last := measure(total-window, window)
	b.StopTimer()
	size := h.store.Head().Size
	h.store.Close()
	fi, err := os.Stat(filepath.Join(h.dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / window }
	b.ReportMetric(per(first.wall), "start-ns/inv")
	b.ReportMetric(per(mid.wall), "mid-ns/inv")
	b.ReportMetric(per(last.wall), "end-ns/inv")
	b.ReportMetric(per(first.cpu), "start-cpu-ns/inv")
	b.ReportMetric(per(mid.cpu), "mid-cpu-ns/inv")
	b.ReportMetric(per(last.cpu), "end-cpu-ns/inv")
	b.ReportMetric(float64(fi.Size())/float64(size), "file-B/event")
	b.Logf("%d events, state.db %d bytes; end/start wall %.2f, cpu %.2f", size, fi.Size(),
		per(last.wall)/per(first.wall), per(last.cpu)/per(first.cpu))
}
