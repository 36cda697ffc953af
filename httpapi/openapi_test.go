package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/edge"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(wire.OpenAPI)
	if err != nil {
		t.Fatalf("wire/openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("wire/openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// operation finds the document's operation for a mux pattern
// ("GET /v1/ledger/events/{index}").
func operation(doc *openapi3.T, pattern string) *openapi3.Operation {
	method, path, _ := strings.Cut(pattern, " ")
	item := doc.Paths.Value(path)
	if item == nil {
		return nil
	}
	return item.GetOperation(method)
}

// Every route a server or an edge node registers is in the document, and
// the document names no route that neither serves.
func TestOpenAPINamesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	c := testcluster.NewHTTP(t, 1, testcluster.Options{})
	e, _, _ := startTestEdge(t)
	served := map[string]bool{}
	for _, p := range append(c.Node(0).Server().Routes(), e.Routes()...) {
		served[p] = true
		if operation(doc, p) == nil {
			t.Errorf("route %s is not in wire/openapi.json", p)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("wire/openapi.json names %s %s, which no server registers", method, path)
			}
		}
	}
}

// exchange is one recorded request and answer.
type exchange struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	resp   []byte
}

// recorder sends requests and keeps every exchange.
type apiRecorder struct {
	t     *testing.T
	hc    *http.Client
	token string
	log   []exchange
}

func (r *apiRecorder) do(method, addr, path string, body []byte, hdr ...string) exchange {
	r.t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ex := exchange{req: req, body: body, status: resp.StatusCode, header: resp.Header, resp: b}
	r.log = append(r.log, ex)
	return ex
}

func (r *apiRecorder) get(addr, path string) exchange { return r.do(http.MethodGet, addr, path, nil) }

func (r *apiRecorder) post(addr, path string, v any) exchange {
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.do(http.MethodPost, addr, path, b)
}

// Answers recorded from a real in-process cluster (a server with a
// follower, an edge node), successes and errors, match the document's
// responses; every operation of the document is exercised.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	c := newGossipCluster(t, 2)
	rec := &apiRecorder{t: t, hc: &http.Client{Timeout: 20 * time.Second}}
	answer := exerciseServer(t, c, rec)
	exerciseEdge(t, c, rec, answer)
	leaveLast(c, rec)
	if dir := os.Getenv("CNV_OPENAPI_DUMP"); dir != "" {
		dumpExchanges(t, dir, rec.log)
	}
	validateExchanges(t, doc, rec.log)
}

func exerciseServer(t *testing.T, c *testcluster.Cluster, rec *apiRecorder) wire.Outcome {
	l, f := c.Leader(), c.Followers()[0]
	la, fa := l.APIAddr(), f.APIAddr()
	signed := func(invs ...invocation.Invocation) invocation.Signed {
		for i := range invs {
			invs[i].RequestID = client.NewRequestID()
		}
		s, err := invocation.Sign(c.Admin(), invs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rec.post(fa, "/v1/invoke", signed(invocation.Invocation{Capability: "capability.register", Payload: []byte(testCaps)}))
	allow := rec.post(fa, "/v1/invoke", signed(invocation.Invocation{Capability: "user.create", Args: []invocation.Arg{{Name: "name", Value: "alice"}}},
		invocation.Invocation{Capability: "user.read"}, invocation.Invocation{Capability: "no.such"}))
	rec.post(la, "/v1/invoke", signed(invocation.Invocation{Capability: "no.such"}))
	rec.post(la, "/v1/invoke", map[string]any{})
	var ir wire.InvokeResponse
	if err := json.Unmarshal(allow.resp, &ir); err != nil || len(ir.Results) != 3 {
		t.Fatalf("invoke: %s", allow.resp)
	}
	for _, o := range ir.Results[:2] { // a certificate, a receipt
		if ex := rec.post(fa, "/v1/certificates/verify", o); ex.status != http.StatusOK {
			t.Fatalf("verify %s: %d %s", o.Decision, ex.status, ex.resp)
		}
	}
	rec.post(fa, "/v1/certificates/verify", map[string]any{"signed_bytes": []byte("x"), "signature": []byte("y")})
	for _, p := range []string{"/v1/cluster/status", "/v1/cluster/members", "/v1/cluster/keys", "/v1/ledger/status",
		"/v1/ledger/events?start=0&limit=2", "/v1/ledger/events/1", "/v1/ledger/events/999", "/v1/ledger/query?type=PolicyDecision&decision=allow",
		"/v1/ledger/proof?index=1", "/v1/ledger/proof", "/v1/ledger/consistency?from=1&to=3", "/v1/ledger/checkpoints", "/v1/ledger/verify",
		"/v1/ledger/export?from=0&to=2", "/v1/delegations/" + delegation.Hash{}.String(), "/v1/capabilities", "/v1/graph/snapshot",
		"/v1/policy", "/v1/principals", "/v1/snapshot", "/metrics", "/healthz", "/readyz", "/v1/openapi.json", "/v1/nosuch"} {
		rec.get(fa, p)
	}
	rec.do(http.MethodDelete, fa, "/v1/cluster/status", nil)
	rec.post(fa, "/v1/graph/query", map[string]any{"op": "reachable", "from": "user.create", "to": "user.read"})
	rec.post(fa, "/v1/graph/query", map[string]any{"op": "nope"})
	rec.post(fa, "/v1/cluster/transfer-leader", map[string]any{"to": "nosuch"})
	rec.post(fa, "/v1/cluster/transfer-leader", map[string]any{"to": f.ID})
	c.WaitLeader()
	rec.post(fa, "/v1/cluster/remove", map[string]any{"node_id": "nosuch"})
	rec.post(fa, "/v1/cluster/join", map[string]any{"node_id": "x"})
	l, f = c.Leader(), c.Followers()[0]
	rec.post(fa, "/v1/cluster/move-member", map[string]any{"node_id": "nosuch", "raft_addr": "127.0.0.1:1"})
	rec.post(fa, "/v1/cluster/move-member", map[string]any{"node_id": f.ID, "raft_addr": l.RaftAddr()})
	rec.post(fa, "/v1/cluster/move-member", map[string]any{"node_id": f.ID, "raft_addr": f.RaftAddr()})
	return ir.Results[0]
}

// leaveLast makes the follower leave: the last exchange of the run.
func leaveLast(c *testcluster.Cluster, rec *apiRecorder) {
	rec.post(c.Followers()[0].APIAddr(), "/v1/cluster/leave", map[string]any{})
}

// startTestEdge starts an edge node (its gossip not joined yet) on a
// loopback port; cleanup stops it.
func startTestEdge(t *testing.T) (*edge.Server, *gossip.Gossip, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gossip.New(gossip.Config{NodeID: "e1", Role: gossip.RoleEdge, BindAddr: "127.0.0.1:0",
		APIAddr: ln.Addr().String(), Timing: gossip.FastTiming(), Fetch: peer.New(client.Options{Timeout: 5 * time.Second}).GraphFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	e := edge.New(edge.Config{NodeID: "e1", Gossip: g, Peers: peer.New(client.Options{Timeout: 5 * time.Second})})
	go e.Serve(ln)
	t.Cleanup(func() { e.Shutdown(context.Background()); g.Shutdown() })
	return e, g, ln.Addr().String()
}

func exerciseEdge(t *testing.T, c *testcluster.Cluster, rec *apiRecorder, answer wire.Outcome) {
	_, g, ea := startTestEdge(t)
	if _, err := g.Join([]string{c.Node(0).Node().Gossip().Addr()}); err != nil {
		t.Fatal(err)
	}
	testcluster.WaitFor(t, "the edge is ready", 20*time.Second, func() error {
		if ex := rec.get(ea, "/readyz"); ex.status != http.StatusOK {
			return &client.APIError{Status: ex.status}
		}
		return nil
	})
	testcluster.WaitFor(t, "the edge learns the node keys", 20*time.Second, func() error {
		if ex := rec.get(ea, "/v1/cluster/keys"); ex.status != http.StatusOK {
			return &client.APIError{Status: ex.status}
		}
		return nil
	})
	for _, p := range []string{"/healthz", "/v1/cluster/status", "/v1/cluster/members", "/v1/capabilities",
		"/v1/graph/snapshot", "/v1/openapi.json"} {
		rec.get(ea, p)
	}
	rec.post(ea, "/v1/graph/query", map[string]any{"op": "reachable", "from": "user.create", "to": "user.read"})
	rec.post(ea, "/v1/invoke", map[string]any{})
	if ex := rec.post(ea, "/v1/certificates/verify", answer); ex.status != http.StatusOK {
		t.Fatalf("the edge refused a certificate: %d %s", ex.status, ex.resp)
	}
	rec.post(ea, "/v1/certificates/verify", map[string]any{"signed_bytes": []byte("x"), "signature": []byte("y")})
}

func dumpExchanges(t *testing.T, dir string, log []exchange) {
	os.MkdirAll(dir, 0o755)
	var b bytes.Buffer
	for _, ex := range log {
		resp := ex.resp
		if len(resp) > 3000 {
			resp = resp[:3000]
		}
		b.WriteString(ex.req.Method + " " + ex.req.URL.RequestURI() + " -> " + http.StatusText(ex.status) + " " + ex.header.Get("Content-Type") + "\n" + string(resp) + "\n\n")
	}
	os.WriteFile(filepath.Join(dir, "exchanges.txt"), b.Bytes(), 0o644)
}

// validateExchanges checks each request and answer against the document
// and that every operation was exercised.
func validateExchanges(t *testing.T, doc *openapi3.T, log []exchange) {
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
	openapi3filter.RegisterBodyDecoder("application/octet-stream", openapi3filter.FileBodyDecoder)
	seen := map[*openapi3.Operation]bool{}
	for _, ex := range log {
		route, params, err := router.FindRoute(ex.req)
		if err != nil {
			if ex.status != http.StatusNotFound && ex.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %v", ex.req.Method, ex.req.URL.Path, err)
			}
			checkErrorShape(t, ex)
			continue
		}
		seen[route.Operation] = true
		validateOne(t, ex, route, params)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !seen[op] {
				t.Errorf("no recorded answer for %s %s", method, path)
			}
		}
	}
}

func validateOne(t *testing.T, ex exchange, route *routers.Route, params map[string]string) {
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: ex.req, PathParams: params, Route: route, Options: opts}
	ex.req.Body = io.NopCloser(bytes.NewReader(ex.body))
	if ex.status/100 == 2 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("request %s %s does not match: %v", ex.req.Method, ex.req.URL.RequestURI(), err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.status, Header: ex.header,
		Body: io.NopCloser(bytes.NewReader(ex.resp)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("answer to %s %s (%d) does not match: %v\n%.600s", ex.req.Method, ex.req.URL.RequestURI(), ex.status, err, ex.resp)
	}
	if ex.status >= 400 {
		checkErrorShape(t, ex)
	}
}

// checkErrorShape: every error, 404 and 405 included, is {"error":…}.
func checkErrorShape(t *testing.T, ex exchange) {
	var er wire.ErrorResponse
	if err := json.Unmarshal(ex.resp, &er); err != nil || er.Error == nil || er.Error.Kind == "" || er.Error.Message == "" {
		t.Errorf("%s %s (%d): not an {\"error\":…} answer: %s", ex.req.Method, ex.req.URL.Path, ex.status, ex.resp)
	}
}

func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	var lines []any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, err
		}
		lines = append(lines, v)
	}
	return lines, nil
}
