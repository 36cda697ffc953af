package fsm

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/runtime/invocation"
)

// BenchmarkApplyInvocations applies entries of n admin invocations (one
// bbolt transaction per entry, as raft hands them over under load).
// ns/op is per invocation.
func BenchmarkApplyInvocations(b *testing.B) {
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("per-entry=%d", n), func(b *testing.B) {
			h := newHarness(b)
			h.adminInvoke(CapCapabilityRegister, []byte(`{"capabilities":[{"path":"bench.run","effects":["read_only"]}]}`))
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += n {
				cmds := make([]Command, n)
				for i := range cmds {
					cmds[i] = Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{
						Capability: "bench.run", RequestID: fmt.Sprintf("r%d-%d", done, i),
						Args: []invocation.Arg{{Name: "n", Value: fmt.Sprint(done + i)}}}}}
				}
				h.index++
				h.now += 1000
				env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
				data, _ := env.Encode()
				h.f.ApplyBatch([]*raft.Log{{Index: h.index, Type: raft.LogCommand, Data: data}})
			}
		})
	}
}
