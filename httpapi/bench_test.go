package httpapi_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// BenchmarkClusterInvoke measures committed invocations through a 3-node
// in-process cluster over loopback HTTP, from parallel clients spread
// over the nodes. ns/op is per request of `batch` invocations; invocations/s is the
// committed rate.
func BenchmarkClusterInvoke(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c := testcluster.NewHTTP(b, 3, testcluster.Options{})
			c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(`{"capabilities":[{"path":"bench.run","effects":["read_only"]}]}`))
			var seq atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				node := c.Node(int(seq.Add(1)) % 3)
				invs := make([]invocation.Invocation, batch)
				for pb.Next() {
					for i := range invs {
						invs[i] = invocation.Invocation{Capability: "bench.run", Args: []invocation.Arg{{Name: "n", Value: fmt.Sprint(seq.Add(1))}}}
					}
					outs, err := c.InvokeAPI(node, nil, invs...)
					if err != nil || outs[0].Decision != "allow" {
						b.Errorf("invoke: %v", err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "invocations/s")
		})
	}
}
