package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

func postRaw(t *testing.T, addr string, body []byte) (int, wire.ErrorResponse) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/invoke", wire.ContentJSON, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var er wire.ErrorResponse
	json.Unmarshal(b, &er)
	return resp.StatusCode, er
}

// TestBadInputThroughTheAPI sends every kind of bad request to a follower
// and to the leader: each gets a clear 4xx with a structured error, the
// nodes stay up, and the ledger does not change.
func TestBadInputThroughTheAPI(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	bot := c.register(c.leader(), "bot", principal.Agent, principal.DefaultTenant)
	botPub := bot.Public().(ed25519.PublicKey)
	before := c.waitConverged()

	signed := func(key ed25519.PrivateKey, inv invocation.Invocation) []byte {
		if inv.RequestID == "" {
			inv.RequestID = client.NewRequestID()
		}
		s, err := invocation.Sign(key, []invocation.Invocation{inv})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s)
		return b
	}
	forged := func() []byte {
		s, _ := invocation.Sign(c.admin, []invocation.Invocation{userCreate("x", "forged-1")})
		s.Signature[0] ^= 0xff
		b, _ := json.Marshal(s)
		return b
	}()
	unsigned := func() []byte {
		s, _ := invocation.Sign(c.admin, []invocation.Invocation{userCreate("x", "unsigned-1")})
		s.Signature = nil
		b, _ := json.Marshal(s)
		return b
	}()
	_, stranger, _ := principal.Generate(nil)
	expired := c.grant(botPub, 0, time.Now().Add(-time.Second), "user.*")
	// A widened child: the bot re-delegates more than it was given.
	root := c.grant(botPub, 5, time.Now().Add(time.Hour), "user.read")
	_, carolPriv, _ := principal.Generate(nil)
	wide, _ := delegation.NewConstraints([]string{"**"}, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
	body := root.Body()
	childBody := delegation.Body{Version: delegation.Version, Nonce: make([]byte, delegation.NonceSize), Issuer: botPub,
		IssuerID: principal.IDOf(botPub), Audience: carolPriv.Public().(ed25519.PublicKey), AudienceID: principal.IDOf(carolPriv.Public().(ed25519.PublicKey)),
		Constraints: wide, NotBefore: body.NotBefore, NotAfter: body.NotAfter, MaxUses: 50, Parent: root.Hash(), Depth: 1}
	child, err := delegation.Sign(childBody, bot)
	if err != nil {
		t.Fatal(err)
	}
	withChain := func(key ed25519.PrivateKey, links ...delegation.Link) []byte {
		inv := userCreate("chained", "")
		for _, l := range links {
			inv.Chain = append(inv.Chain, token(t, l))
		}
		return signed(key, inv)
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		kind   cnverr.Kind
	}{
		{"malformed json", []byte(`{"body": "AAA`), 400, cnverr.InvalidInput},
		{"unknown field", []byte(`{"body":"", "signature":"", "extra":1}`), 400, cnverr.InvalidInput},
		{"oversize body", append([]byte(`{"body":"`), bytes.Repeat([]byte("A"), 5<<20)...), 413, cnverr.TooLarge},
		{"unknown capability", signed(c.admin, invocation.Invocation{Capability: "nope.missing"}), 404, cnverr.CommandNotFound},
		{"forged signature", forged, 401, cnverr.Unauthenticated},
		{"missing signature", unsigned, 400, cnverr.InvalidInput},
		{"unregistered key", signed(stranger, userCreate("x", "")), 401, cnverr.Unauthenticated},
		{"widened chain", withChain(carolPriv, root, child), 0, ""},
	}
	for _, tc := range cases {
		for _, tn := range []*testNode{c.followers()[0], c.leader()} {
			status, er := postRaw(t, tn.apiAddr, tc.body)
			if tc.status == 0 { // any 4xx with a structured error
				if status < 400 || status >= 500 || er.Error == nil {
					t.Errorf("%s via %s: status %d %+v", tc.name, tn.id, status, er.Error)
				}
				continue
			}
			if status != tc.status || er.Error == nil || er.Error.Kind != tc.kind {
				t.Errorf("%s via %s: status %d error %+v; want %d %s", tc.name, tn.id, status, er.Error, tc.status, tc.kind)
			}
		}
	}
	// A link outside its window is decided at the committed time and
	// ledgered as a denial, never refused before Raft by a node's clock.
	for _, tn := range []*testNode{c.followers()[0], c.leader()} {
		outs, err := c.invoke(tn, bot, withChainInv(t, expired))
		if err != nil || len(outs) != 1 || outs[0].Decision != "deny" || !strings.Contains(outs[0].Reason, "expired") || outs[0].LedgerIndex == 0 {
			t.Fatalf("expired chain via %s: %+v %v", tn.id, outs, err)
		}
	}
	// A reused request id with a different body is a conflict.
	c.adminInvoke(c.leader(), "user.create", nil, invocation.Arg{Name: "name", Value: "first"})
	first := userCreate("one", "same-id")
	if _, err := c.invoke(c.nodes[0], nil, first); err != nil {
		t.Fatal(err)
	}
	_, err = c.invoke(c.nodes[1], nil, userCreate("two", "same-id"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("reused request id: %v", err)
	}
	// Every node is still up, and only the two good invocations above
	// reached the ledger.
	after := c.waitConverged()
	if after.Size != before.Size+4 { // two expired-chain denials, two good invocations
		t.Fatalf("ledger grew from %d to %d; want +4", before.Size, after.Size)
	}
	for _, tn := range c.nodes {
		if _, err := c.client.Status(context.Background(), tn.apiAddr); err != nil {
			t.Fatalf("%s down: %v", tn.id, err)
		}
	}
}

func withChainInv(t *testing.T, links ...delegation.Link) invocation.Invocation {
	inv := userCreate("chained", "")
	for _, l := range links {
		inv.Chain = append(inv.Chain, token(t, l))
	}
	return inv
}
