package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// post sends body to path with a content type and returns the status and
// the structured error, if any.
func post(t *testing.T, addr, path, ctype string, body []byte) (int, wire.ErrorResponse) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v (want an answer)", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var er wire.ErrorResponse
	json.Unmarshal(b, &er)
	return resp.StatusCode, er
}

// Inputs are strict and the same in JSON and msgpack: duplicate,
// case-changed and unknown keys, invalid UTF-8, oversized bodies and
// nonsense ranges are 4xx answers naming what is wrong; nothing is applied
// and every node stays up.
func TestStrictInputs(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	before := c.WaitConverged()
	f := c.Followers()[0]
	inv := userCreate("x", "strict-good")
	good, err := invocation.Sign(c.Admin(), []invocation.Invocation{inv})
	if err != nil {
		t.Fatal(err)
	}
	goodJSON, _ := json.Marshal(good)
	bad := userCreate("x", "strict-bad")
	bad.Args[0].Value = "\xff\xfe"
	badUTF8, err := invocation.Sign(c.Admin(), []invocation.Invocation{bad})
	if err != nil {
		t.Fatal(err)
	}
	unknownMsgpack := codec.MustMarshal(map[string]any{"body": good.Body, "signature": good.Signature, "extra": 1})
	dupJSON := []byte(strings.Replace(string(goodJSON), `{"body":`, `{"signature":"AA==","body":`, 1))
	caseJSON := []byte(strings.Replace(string(goodJSON), `"body"`, `"Body"`, 1))
	cases := []struct {
		name, path, ctype string
		body              []byte
		status            int
		want              string
	}{
		{"duplicate JSON key", "/v1/invoke", wire.ContentJSON, dupJSON, 400, "duplicate"},
		{"case-changed JSON key", "/v1/invoke", wire.ContentJSON, caseJSON, 400, "Body"},
		{"unknown msgpack field", "/v1/invoke", wire.ContentMsgpack, unknownMsgpack, 400, "extra"},
		{"invalid UTF-8 in an argument value", "/v1/invoke", wire.ContentMsgpack, codec.MustMarshal(badUTF8), 400, "args[0].value"},
		{"duplicate key on join", "/v1/cluster/join", wire.ContentJSON, []byte(`{"node_id":"n9","node_id":"n8","raft_addr":"127.0.0.1:1"}`), 400, "duplicate"},
		{"oversized join body", "/v1/cluster/join", wire.ContentJSON, append([]byte(`{"node_id":"`), bytes.Repeat([]byte("a"), 1<<20)...), 413, "exceeds"},
	}
	for _, tc := range cases {
		for _, tn := range []*testcluster.Node{f, c.Leader()} {
			status, er := post(t, tn.APIAddr(), tc.path, tc.ctype, tc.body)
			if status != tc.status || er.Error == nil || !strings.Contains(er.Error.Message, tc.want) {
				t.Errorf("%s via %s: %d %+v; want %d naming %q", tc.name, tn.ID, status, er.Error, tc.status, tc.want)
			}
		}
	}
	for _, q := range []string{"/v1/ledger/export?from=5&to=3", "/v1/ledger/consistency?from=4&to=2", "/v1/ledger/export?to=999999"} {
		resp, err := http.Get("http://" + f.APIAddr() + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("GET %s: %d, want 400", q, resp.StatusCode)
		}
	}
	// The certificate check reads msgpack when it is told so.
	outs, err := c.InvokeAPI(c.Leader(), nil, userCreate("cert", "strict-cert"))
	if err != nil {
		t.Fatal(err)
	}
	doc := codec.MustMarshal(&outs[0])
	if status, er := post(t, f.APIAddr(), "/v1/certificates/verify", wire.ContentMsgpack, doc); status != 200 {
		t.Errorf("verify in msgpack: %d %+v", status, er.Error)
	}
	after := c.WaitConverged()
	if after.Size != before.Size+1 {
		t.Fatalf("ledger grew from %d to %d; want +1 (the certificate above)", before.Size, after.Size)
	}
}
