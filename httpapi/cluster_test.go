package httpapi

import (
	"testing"

	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

const testCaps = `{"capabilities":[
 {"path":"user.create","version":"1.0.0","effects":["mutate_state"]},
 {"path":"user.read","effects":["read_only"]}]}`

func TestClusterBootstrapJoinAndInvokeOnFollower(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	f := c.followers()[0]
	c.adminInvoke(f, "capability.register", []byte(testCaps))
	outs, err := c.invoke(f, nil, invocation.Invocation{Capability: "user.create@1.0.0", Args: []invocation.Arg{{Name: "name", Value: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := outs[0]
	if o.Decision != "allow" || o.Certificate == nil || len(o.Signature) != 64 || o.LedgerIndex == 0 {
		t.Fatalf("outcome: %+v", o)
	}
	// A non-admin key is denied by the bootstrap policy, with a signed receipt.
	bot := c.register(c.leader(), "bot", principal.Agent, "acme")
	outs, err = c.invoke(c.followers()[1], bot, invocation.Invocation{Capability: "user.read"})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Decision != "deny" || outs[0].Receipt == nil || len(outs[0].Signature) != 64 {
		t.Fatalf("deny outcome: %+v", outs[0])
	}
	c.waitConverged()
}
