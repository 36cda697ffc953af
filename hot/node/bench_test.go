package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// BenchmarkLeaseThroughFollower measures one quota lease (a block of uses
// charged on the chain through Raft) proposed by a follower of a 3-node
// in-process cluster: the cost a session pays per LeaseBlock uses.
func BenchmarkLeaseThroughFollower(b *testing.B) {
	c := newHotCluster(b, 3, nil)
	bot := c.RegisterAPI(c.Leader(), "bot", principal.Agent, principal.DefaultTenant)
	link := c.grant(bot.Public().(ed25519.PublicKey), 0, time.Now().Add(time.Hour))
	c.certify(c.Leader(), bot, "hot.counter", link)
	var f *testcluster.Node
	for _, tn := range c.Nodes() {
		if !tn.Node().IsLeader() {
			f = tn
		}
	}
	testcluster.WaitFor(b, "link applied on the follower", 10*time.Second, func() error {
		if _, ok, _ := f.Node().FSM().LinkStateOf(link.Hash()); !ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	lease := func(i int) *fsm.HotLease {
		return &fsm.HotLease{Lease: "bench", Node: f.ID, Certificate: "cert_bench", Links: []delegation.Hash{link.Hash()},
			Want: 1024, First: i == 0}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := f.Node().Propose(context.Background(), []fsm.Command{{Kind: fsm.KindHotLease, HotLease: lease(i)}})
		if err != nil || res[0].Err != nil {
			b.Fatalf("lease %d: %v %+v", i, err, res)
		}
	}
}
