package httpapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/metrics"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// forwarded is a node's count of relayed requests of op that succeeded.
func forwarded(t *testing.T, reg *metrics.Registry, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cnv_forwarded_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["outcome"] == "ok" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A follower authenticates and prepares what it can and hands the leader
// the commands, many requests to a message; every answer is the leader's
// certificate. A batch it cannot authenticate (a key it does not know)
// goes to the leader as it came, and the leader judges it.
func TestFollowerPreparesForTheLeader(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	c.WaitConverged()
	f := c.Followers()[0]
	const n = 48
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs, err := c.InvokeAPI(f, nil, userCreate(fmt.Sprintf("p%d", i), ""))
			switch {
			case err != nil:
				errs <- err
			case outs[0].Decision != "allow":
				errs <- fmt.Errorf("%+v", outs[0])
			default:
				if _, err := cert.Check(&outs[0], c.Trust()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs := forwarded(t, f.Metrics(), "invoke_prepared")
	if msgs < 1 || msgs > n {
		t.Fatalf("%v messages of prepared requests for %d requests", msgs, n)
	}
	t.Logf("%d requests in %v messages", n, msgs)
	if raw := forwarded(t, f.Metrics(), "invoke"); raw != 0 {
		t.Fatalf("%v requests relayed as they came", raw)
	}
	_, stranger, _ := principal.Generate(nil)
	if _, err := c.InvokeAPI(f, stranger, userCreate("s", "")); cnverr.KindOf(err) != cnverr.Unauthenticated {
		t.Fatalf("unknown key through a follower: %v", err)
	}
	if raw := forwarded(t, f.Metrics(), "invoke"); raw != 1 {
		t.Fatalf("the unknown key's batch was relayed %v times", raw)
	}
}

// The leader takes only invocations from a member, each with its own
// request id.
func TestPreparedRequestsAreOnlyInvocations(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	l := c.Leader().Node()
	inv := &fsm.Invoke{Invoker: principal.IDOf(c.AdminPublic()), Invocation: invocation.Invocation{Capability: "user.create", RequestID: "a"}}
	for name, reqs := range map[string][]cluster.Prepared{
		"none":             nil,
		"no commands":      {{}},
		"ids mismatch":     {{RequestIDs: []string{"a", "b"}, Commands: []fsm.Command{{Kind: fsm.KindInvoke, Invoke: inv}}}},
		"another id":       {{RequestIDs: []string{"b"}, Commands: []fsm.Command{{Kind: fsm.KindInvoke, Invoke: inv}}}},
		"not an invoke":    {{RequestIDs: []string{"a"}, Commands: []fsm.Command{{Kind: fsm.KindNodeLeft}}}},
		"invoke without a": {{RequestIDs: []string{"a"}, Commands: []fsm.Command{{Kind: fsm.KindInvoke}}}},
	} {
		if _, err := l.InvokePrepared(context.Background(), reqs); cnverr.KindOf(err) != cnverr.InvalidInput {
			t.Errorf("%s: %v", name, err)
		}
	}
}
