package fsm

import (
	"fmt"
	"testing"

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
