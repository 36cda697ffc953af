package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// The API speaks msgpack when asked, for writes and reads.
func TestMsgpackClient(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	mp := client.New(client.Options{Key: c.Admin(), Msgpack: true, Timeout: 10 * time.Second})
	outs, err := mp.Invoke(context.Background(), c.Followers()[0].APIAddr(), userCreate("mp", ""))
	if err != nil || outs[0].Decision != "allow" || len(outs[0].Signature) != 64 || outs[0].Certificate == nil {
		t.Fatalf("msgpack invoke: %v %+v", err, outs)
	}
	st, err := mp.Status(context.Background(), c.Node(1).APIAddr())
	if err != nil || st.NodeID != c.Node(1).ID || len(st.LedgerRoot) != 64 {
		t.Fatalf("msgpack status: %v %+v", err, st)
	}
}

// /metrics passes the client library's linter on a live node, has HELP on
// every family, counters that only go up between scrapes, Raft's metrics
// and the application's; /healthz and /readyz answer; an unknown route or
// method is a structured error.
func TestMetricsAndHealth(t *testing.T) {
	c := testcluster.NewHTTP(t, 1, testcluster.Options{})
	// Raft reports through go-metrics' process-wide sink: bridge it into
	// this node's registry (a process runs one node but for tests).
	if err := c.Node(0).Metrics().BridgeRaft(); err != nil {
		t.Fatal(err)
	}
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	c.AdminInvokeAPI(c.Leader(), "user.create", nil, invocation.Arg{Name: "name", Value: "m"})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + c.Node(0).APIAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, first := get("/metrics")
	c.AdminInvokeAPI(c.Leader(), "user.create", nil, invocation.Arg{Name: "name", Value: "n"})
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	probs, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil || len(probs) > 0 {
		t.Fatalf("promlint: %v %v", err, probs)
	}
	for _, want := range []string{"cnv_raft_is_leader 1", "cnv_ledger_size", `cnv_invocations_total{decision="allow",kind="direct"}`,
		`cnv_invocations_total{decision="allow",kind="governance"}`, "cnv_commit_latency_seconds_bucket", "cnv_apply_duration_seconds_count",
		`cnv_http_request_duration_seconds_count{code="200",route="POST /v1/invoke"}`, "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "cnv_raft_") && !strings.Contains(body, "cnv_raft_apply_total") {
		t.Errorf("/metrics lacks Raft's go-metrics")
	}
	before, after := samples(t, first), samples(t, body)
	for name, v := range before {
		if (strings.HasSuffix(name, "_total") || strings.Contains(name, "_count")) && after[name] < v {
			t.Errorf("%s went down between scrapes: %g → %g", name, v, after[name])
		}
	}
	if after[`cnv_invocations_total{decision="allow",kind="direct"}`] <= before[`cnv_invocations_total{decision="allow",kind="direct"}`] {
		t.Error("an invocation did not count")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	for path, want := range map[string]int{"/v1/nosuch": 404, "/v1/invoke": 405} {
		code, body := get(path)
		var er wire.ErrorResponse
		if code != want || json.Unmarshal([]byte(body), &er) != nil || er.Error == nil {
			t.Errorf("GET %s: %d %s; want %d with {\"error\":…}", path, code, body, want)
		}
	}
}

// samples maps every sample line of Prometheus text to its value.
func samples(t *testing.T, text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// cluster leave on the leader hands leadership over and removes it;
// cluster remove removes another server; the rest keeps committing.
func TestLeaveAndRemove(t *testing.T) {
	c := testcluster.NewHTTP(t, 4, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	old := c.Leader()
	if err := c.Client().Leave(context.Background(), old.APIAddr()); err != nil {
		t.Fatal(err)
	}
	l := c.WaitLeader()
	if l == old {
		t.Fatal("leader did not hand over")
	}
	gone := func(id string) func() error {
		return func() error {
			ms, err := c.Client().Members(context.Background(), l.APIAddr())
			if err != nil {
				return err
			}
			for _, m := range ms {
				if m.NodeID == id {
					return fmt.Errorf("%s still a member", id)
				}
			}
			return nil
		}
	}
	testcluster.WaitFor(t, old.ID+" removed", 10*time.Second, gone(old.ID))
	c.Stop(old)
	victim := c.Followers()[0]
	if err := c.Client().Remove(context.Background(), c.Followers()[1].APIAddr(), victim.ID); err != nil {
		t.Fatal(err)
	}
	testcluster.WaitFor(t, victim.ID+" removed", 10*time.Second, gone(victim.ID))
	c.Stop(victim)
	if outs, err := c.InvokeAPI(c.Leader(), nil, invocation.Invocation{Capability: "user.read"}); err != nil || outs[0].Decision != "allow" {
		t.Fatalf("after leave and remove: %v %+v", err, outs)
	}
}

// With a cluster token, membership changes and node-to-node calls need
// it; invocations and reads do not.
func TestClusterToken(t *testing.T) {
	const token = "0123456789abcdef0123"
	c := testcluster.NewHTTP(t, 1, testcluster.Options{})
	n := c.Node(0)
	c.Stop(n)
	n.SetToken(token)
	c.Restart(n)
	c.WaitReady(n)
	addr := n.APIAddr()
	open := client.New(client.Options{Timeout: 5 * time.Second})
	err := open.Remove(context.Background(), addr, "nobody")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("remove without the token: %v", err)
	}
	if _, err := open.Status(context.Background(), addr); err != nil {
		t.Fatalf("status needs no token: %v", err)
	}
	withToken := client.New(client.Options{Timeout: 5 * time.Second, Token: token})
	err = withToken.Remove(context.Background(), addr, "nobody")
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		t.Fatalf("remove with the token refused: %v", err)
	}
}

// POST /v1/certificates/verify checks a certificate against the node keys
// in the replicated state; tampered or malformed documents are 4xx.
func TestVerifyCertificateEndpoint(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	outs, err := c.InvokeAPI(c.Followers()[0], nil, userCreate("v", ""))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(outs[0])
	bad := outs[0]
	bad.Signature = append([]byte(nil), bad.Signature...)
	bad.Signature[0] ^= 1
	tampered, _ := json.Marshal(bad)
	renamed := outs[0]
	view := *renamed.Certificate
	view.AgentID = "mallory"
	renamed.Certificate = &view
	mallory, _ := json.Marshal(renamed)
	post := func(addr string, body []byte) (int, string) {
		resp, err := http.Post("http://"+addr+"/v1/certificates/verify", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tn := range c.Nodes() {
		if got, body := post(tn.APIAddr(), good); got != http.StatusOK || !strings.Contains(body, `"correlation_id":"v"`) {
			t.Errorf("%s: valid certificate answered %d %s", tn.ID, got, body)
		}
		if got, _ := post(tn.APIAddr(), tampered); got < 400 || got >= 500 {
			t.Errorf("%s: tampered certificate answered %d", tn.ID, got)
		}
		// A field outside the signed bytes is not believed: the answer
		// names it.
		if got, body := post(tn.APIAddr(), mallory); got != http.StatusUnauthorized || !strings.Contains(body, "certificate.agent_id") {
			t.Errorf("%s: certificate renamed to mallory answered %d %s", tn.ID, got, body)
		}
		if got, _ := post(tn.APIAddr(), []byte("{not json")); got != http.StatusBadRequest {
			t.Errorf("%s: malformed document answered %d", tn.ID, got)
		}
	}
}
