package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/httpapi"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// fakeNode is the node behind an API under test where only the API is:
// Invoke counts its calls and answers what answer returns; the rest is
// never reached by these tests.
type fakeNode struct {
	invoked atomic.Int64
	answer  func(b invocation.Batch) ([]cluster.Outcome, error)
}

var errUnused = errors.New("fake node: not used by this test")

func (f *fakeNode) ID() string                                                 { return "fake" }
func (f *fakeNode) Now() time.Time                                             { return time.Now() }
func (f *fakeNode) Status() cluster.Status                                     { return cluster.Status{NodeID: "fake"} }
func (f *fakeNode) Members() ([]cluster.Member, error)                         { return nil, errUnused }
func (f *fakeNode) Ready() error                                               { return nil }
func (f *fakeNode) TransferLeadership(context.Context, string) (string, error) { return "", errUnused }
func (f *fakeNode) AppliedIndex() uint64                                       { return 0 }
func (f *fakeNode) AddServer(context.Context, cluster.JoinRequest) error {
	return errUnused
}
func (f *fakeNode) RemoveServer(context.Context, cluster.RemoveRequest) error { return errUnused }
func (f *fakeNode) Join(context.Context, []string) error                      { return errUnused }
func (f *fakeNode) Leave(context.Context, cluster.Origin) error               { return errUnused }
func (f *fakeNode) MoveServer(context.Context, cluster.MoveRequest) error     { return errUnused }
func (f *fakeNode) RegisterNode(context.Context, cluster.SignedNode) error    { return errUnused }
func (f *fakeNode) HandleProposal(context.Context, cluster.SignedProposal) ([]fsm.Result, error) {
	return nil, errUnused
}
func (f *fakeNode) ReadIndex(context.Context) (uint64, error) { return 0, errUnused }
func (f *fakeNode) Read(context.Context, cluster.Consistency, uint64) (uint64, error) {
	return 0, errUnused
}

// Invoke decodes the batch body without checking its signature (what the
// real node judges is not under test) and answers it.
func (f *fakeNode) Invoke(_ context.Context, s *invocation.Signed) ([]cluster.Outcome, error) {
	f.invoked.Add(1)
	var b invocation.Batch
	if err := codec.Unmarshal(s.Body, &b); err != nil {
		return nil, err
	}
	return f.answer(b)
}

func (f *fakeNode) Prepare(*invocation.Signed) (cluster.Prepared, error) {
	return cluster.Prepared{}, errUnused
}
func (f *fakeNode) InvokePrepared(context.Context, []cluster.Prepared) ([][]cluster.Outcome, error) {
	return nil, errUnused
}

// fakeState and fakeLedger are the empty state and ledger.
type fakeState struct{}

func (fakeState) View() *fsm.View { return &fsm.View{} }
func (fakeState) LinkStateOf(delegation.Hash) (fsm.LinkState, bool, error) {
	return fsm.LinkState{}, false, nil
}

type fakeLedger struct{}

func (fakeLedger) Head() ledger.Head                        { return ledger.Head{} }
func (fakeLedger) Query(ledger.Query) (*ledger.Page, error) { return &ledger.Page{}, nil }
func (fakeLedger) Event(uint64) (event.Event, error)        { return event.Event{}, errUnused }
func (fakeLedger) InclusionProof(uint64, uint64) (*ledger.InclusionProof, error) {
	return nil, errUnused
}
func (fakeLedger) ConsistencyProof(uint64, uint64) (*ledger.ConsistencyProof, error) {
	return nil, errUnused
}
func (fakeLedger) Checkpoints() ([]ledger.CheckpointRecord, error) { return nil, nil }
func (fakeLedger) Verify(ledger.VerifyOptions) (*ledger.VerifyReport, error) {
	return nil, errUnused
}
func (fakeLedger) Export(io.Writer, uint64, uint64) (uint64, error) { return 0, errUnused }

var (
	_ httpapi.Node   = (*fakeNode)(nil)
	_ httpapi.State  = fakeState{}
	_ httpapi.Ledger = fakeLedger{}
)

// serve sends one request to s in process and decodes an error answer.
func serve(s *httpapi.Server, contentType string, body []byte) (int, wire.ErrorResponse, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/v1/invoke", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var er wire.ErrorResponse
	json.Unmarshal(rec.Body.Bytes(), &er)
	return rec.Code, er, rec.Body.Bytes()
}

// TestBadInputDecoding: what the API itself refuses — bodies that do not
// decode, unknown fields, oversize bodies — gets a clear 4xx with a
// structured error and never reaches the node; what the node refuses
// answers with the refusal's status (a batch of one) or 200 with
// per-invocation errors. No cluster: a fake node.
func TestBadInputDecoding(t *testing.T) {
	_, key, _ := principal.Generate(nil)
	signed := func(invs ...invocation.Invocation) []byte {
		for i := range invs {
			invs[i].RequestID = client.NewRequestID()
		}
		s, err := invocation.Sign(key, invs)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s)
		return b
	}
	refusal := map[string]*cnverr.Error{
		"fake.unauthenticated": cnverr.New(cnverr.Unauthenticated, "batch signature does not verify"),
		"fake.missing":         cnverr.New(cnverr.CommandNotFound, "capability nope.missing is not registered"),
		"fake.denied":          cnverr.New(cnverr.PermissionDenied, "delegation link 0 expired"),
		"fake.conflict":        cnverr.New(cnverr.Conflict, "request id reused with another body"),
	}
	node := &fakeNode{answer: func(b invocation.Batch) ([]cluster.Outcome, error) {
		outs := make([]cluster.Outcome, len(b.Invocations))
		for i, inv := range b.Invocations {
			outs[i].RequestID = inv.RequestID
			switch name := inv.Capability; {
			case name == "fake.unauthenticated":
				return nil, refusal[name] // a whole-request refusal
			case refusal[name] != nil:
				outs[i].Err = refusal[name]
			default:
				outs[i].Result = fsm.Result{Decision: policy.Deny, LedgerIndex: 7}
				outs[i].Answer = &certificate.Answer{RequestID: outs[i].RequestID, Decision: string(policy.Deny), LedgerIndex: 7}
			}
		}
		return outs, nil
	}}
	srv := httpapi.NewServer(httpapi.Config{Node: node, State: fakeState{}, Ledger: fakeLedger{}})
	good := signed(invocation.Invocation{Capability: "user.read"})
	cases := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		kind        cnverr.Kind
		reachesNode bool
	}{
		{"malformed json", wire.ContentJSON, []byte(`{"body": "AAA`), 400, cnverr.InvalidInput, false},
		{"unknown field", wire.ContentJSON, []byte(`{"body":"", "signature":"", "extra":1}`), 400, cnverr.InvalidInput, false},
		{"trailing data", wire.ContentJSON, append(append([]byte(nil), good...), []byte(` {}`)...), 400, cnverr.InvalidInput, false},
		{"not a json object", wire.ContentJSON, []byte(`[1,2,3]`), 400, cnverr.InvalidInput, false},
		{"malformed msgpack", wire.ContentMsgpack, []byte{0x82, 0xa4, 'b', 'o'}, 400, cnverr.InvalidInput, false},
		{"oversize body", wire.ContentJSON, append([]byte(`{"body":"`), bytes.Repeat([]byte("A"), 5<<20)...), 413, cnverr.TooLarge, false},
		{"whole batch refused", wire.ContentJSON, signed(invocation.Invocation{Capability: "fake.unauthenticated"}), 401, cnverr.Unauthenticated, true},
		{"unknown capability", wire.ContentJSON, signed(invocation.Invocation{Capability: "fake.missing"}), 404, cnverr.CommandNotFound, true},
		{"chain refused", wire.ContentJSON, signed(invocation.Invocation{Capability: "fake.denied"}), 403, cnverr.PermissionDenied, true},
		{"reused request id", wire.ContentJSON, signed(invocation.Invocation{Capability: "fake.conflict"}), 409, cnverr.Conflict, true},
	}
	for _, tc := range cases {
		before := node.invoked.Load()
		status, er, _ := serve(srv, tc.contentType, tc.body)
		if status != tc.status || er.Error == nil || er.Error.Kind != tc.kind {
			t.Errorf("%s: status %d error %+v; want %d %s", tc.name, status, er.Error, tc.status, tc.kind)
		}
		if reached := node.invoked.Load() > before; reached != tc.reachesNode {
			t.Errorf("%s: reached the node %v, want %v", tc.name, reached, tc.reachesNode)
		}
	}
	// A larger batch answers 200 with an error per refused invocation.
	status, _, body := serve(srv, wire.ContentJSON, signed(invocation.Invocation{Capability: "fake.missing"}, invocation.Invocation{Capability: "user.read"}))
	var resp wire.InvokeResponse
	if err := json.Unmarshal(body, &resp); status != 200 || err != nil || len(resp.Results) != 2 ||
		resp.Results[0].Error == nil || resp.Results[0].Error.Kind != cnverr.CommandNotFound ||
		resp.Results[1].Error != nil || resp.Results[1].Decision != "deny" || resp.Results[1].LedgerIndex != 7 {
		t.Fatalf("mixed batch: %d %v %s", status, err, body)
	}
}

// TestBadInputThroughTheAPI sends every kind of bad request to a real
// node: each gets a clear 4xx with a structured error, the node stays up,
// and the ledger does not change. (The same batches through a follower
// and the leader, judged by the node: package cluster's
// TestInvokeRejectsBadInput; the leader's refusal relayed by a follower:
// TestClusterBootstrapJoinAndInvokeOnFollower.)
func TestBadInputThroughTheAPI(t *testing.T) {
	c := testcluster.NewHTTP(t, 1, testcluster.Options{})
	n := c.Node(0)
	c.AdminInvokeAPI(n, "capability.register", []byte(testCaps))
	bot := c.RegisterAPI(n, "bot", principal.Agent, principal.DefaultTenant)
	botPub := bot.Public().(ed25519.PublicKey)
	before := c.WaitConverged()

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
		s, _ := invocation.Sign(c.Admin(), []invocation.Invocation{userCreate("x", "forged-1")})
		s.Signature[0] ^= 0xff
		b, _ := json.Marshal(s)
		return b
	}()
	unsigned := func() []byte {
		s, _ := invocation.Sign(c.Admin(), []invocation.Invocation{userCreate("x", "unsigned-1")})
		s.Signature = nil
		b, _ := json.Marshal(s)
		return b
	}()
	_, stranger, _ := principal.Generate(nil)
	expired := c.Grant(botPub, 0, time.Now().Add(-time.Second), "user.*")
	// A widened child: the bot re-delegates more than it was given.
	root := c.Grant(botPub, 5, time.Now().Add(time.Hour), "user.read")
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
			inv.Chain = append(inv.Chain, c.Token(l))
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
		{"unknown capability", signed(c.Admin(), invocation.Invocation{Capability: "nope.missing"}), 404, cnverr.CommandNotFound},
		{"forged signature", forged, 401, cnverr.Unauthenticated},
		{"missing signature", unsigned, 400, cnverr.InvalidInput},
		{"unregistered key", signed(stranger, userCreate("x", "")), 401, cnverr.Unauthenticated},
		{"widened chain", withChain(carolPriv, root, child), 0, ""},
	}
	for _, tc := range cases {
		status, er := postRaw(t, n.APIAddr(), tc.body)
		if tc.status == 0 { // any 4xx with a structured error
			if status < 400 || status >= 500 || er.Error == nil {
				t.Errorf("%s: status %d %+v", tc.name, status, er.Error)
			}
			continue
		}
		if status != tc.status || er.Error == nil || er.Error.Kind != tc.kind {
			t.Errorf("%s: status %d error %+v; want %d %s", tc.name, status, er.Error, tc.status, tc.kind)
		}
	}
	// A link outside its window is decided at the committed time and
	// ledgered as a denial, never refused before Raft by a node's clock.
	exp := userCreate("chained", "")
	exp.Chain = [][]byte{c.Token(expired)}
	outs, err := c.InvokeAPI(n, bot, exp)
	if err != nil || len(outs) != 1 || outs[0].Decision != "deny" || !strings.Contains(outs[0].Reason, "expired") || outs[0].LedgerIndex == 0 {
		t.Fatalf("expired chain: %+v %v", outs, err)
	}
	// A reused request id with a different body is a conflict.
	c.AdminInvokeAPI(n, "user.create", nil, invocation.Arg{Name: "name", Value: "first"})
	if _, err := c.InvokeAPI(n, nil, userCreate("one", "same-id")); err != nil {
		t.Fatal(err)
	}
	_, err = c.InvokeAPI(n, nil, userCreate("two", "same-id"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("reused request id: %v", err)
	}
	// The node is still up, and only the two good invocations above
	// reached the ledger.
	after := c.WaitConverged()
	if after.Size != before.Size+3 { // the expired-chain denial, two good invocations
		t.Fatalf("ledger grew from %d to %d; want +3", before.Size, after.Size)
	}
	if _, err := c.Client().Status(context.Background(), n.APIAddr()); err != nil {
		t.Fatalf("%s down: %v", n.ID, err)
	}
}
