package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// The API's tests run on testcluster's HTTP flavour: every node wired as
// cmd/cnv-node wires it. Node behaviour without HTTP is tested in
// package cluster, on the in-memory cluster.

const testCaps = `{"capabilities":[
 {"path":"user.create","version":"1.0.0","effects":["mutate_state"]},
 {"path":"user.read","effects":["read_only"]}]}`

func userCreate(name, requestID string) invocation.Invocation {
	return invocation.Invocation{Capability: "user.create", RequestID: requestID, CorrelationID: name,
		Args: []invocation.Arg{{Name: "name", Value: name}}}
}

// postRaw posts body to addr's /v1/invoke and decodes the error answer.
func postRaw(t *testing.T, addr string, body []byte) (int, wire.ErrorResponse) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/invoke", wire.ContentJSON, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var er wire.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&er)
	return resp.StatusCode, er
}

func TestClusterBootstrapJoinAndInvokeOnFollower(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	f := c.Followers()[0]
	c.AdminInvokeAPI(f, "capability.register", []byte(testCaps))
	outs, err := c.InvokeAPI(f, nil, invocation.Invocation{Capability: "user.create@1.0.0", Args: []invocation.Arg{{Name: "name", Value: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := outs[0]
	if o.Decision != "allow" || o.Certificate == nil || len(o.Signature) != 64 || o.LedgerIndex == 0 {
		t.Fatalf("outcome: %+v", o)
	}
	// A non-admin key is denied by the bootstrap policy, with a signed receipt.
	bot := c.RegisterAPI(c.Leader(), "bot", principal.Agent, "acme")
	outs, err = c.InvokeAPI(c.Followers()[1], bot, invocation.Invocation{Capability: "user.read"})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Decision != "deny" || outs[0].Receipt == nil || len(outs[0].Signature) != 64 {
		t.Fatalf("deny outcome: %+v", outs[0])
	}
	// The leader's refusal of a forwarded batch comes back through the
	// follower as the leader's structured error.
	s, err := invocation.Sign(c.Admin(), []invocation.Invocation{userCreate("forged", "forged-1")})
	if err != nil {
		t.Fatal(err)
	}
	s.Signature[0] ^= 0xff
	forged, _ := json.Marshal(s)
	if status, er := postRaw(t, f.APIAddr(), forged); status != 401 || er.Error == nil || er.Error.Kind != cnverr.Unauthenticated {
		t.Fatalf("forged batch via a follower: %d %+v", status, er.Error)
	}
	c.WaitConverged()
}
