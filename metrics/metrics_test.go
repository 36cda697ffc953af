package metrics

import (
	"bytes"
	"strings"
	"testing"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
)

// Lint runs the client library's linter over Prometheus text and returns
// its problems (tests of every component that reports metrics use it).
func lint(t *testing.T, text []byte) []promlint.Problem {
	t.Helper()
	probs, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("lint: %v\n%s", err, text)
	}
	return probs
}

func gather(t *testing.T, r *Registry) []byte {
	t.Helper()
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// What Raft reports through go-metrics comes out lint-clean: snake_case,
// _total on counters, one family per key with the peer in a label, HELP
// on everything, and cumulative summaries.
func TestRaftBridgeIsLintClean(t *testing.T) {
	r := New()
	s := &raftSink{reg: r.Registry, families: map[string]*family{}}
	peer := []gometrics.Label{{Name: "peer_id", Value: "n2"}}
	s.IncrCounter([]string{"cnv", "raft", "apply"}, 1)
	s.IncrCounter([]string{"cnv", "raft", "apply"}, 2)
	s.AddSampleWithLabels([]string{"cnv", "raft", "net", "rpcDecode"}, 0.5, []gometrics.Label{{Name: "rpcType", Value: "AppendEntries"}})
	s.AddSampleWithLabels([]string{"cnv", "raft", "replication", "appendEntries", "rpc"}, 3, peer)
	s.AddSample([]string{"cnv", "raft", "replication", "appendEntries", "rpc", "n2"}, 3) // its legacy twin: dropped
	s.AddSample([]string{"cnv", "raft", "replication", "heartbeat", "n3"}, 1)            // legacy: dropped
	s.SetGauge([]string{"cnv", "raft", "leader", "dispatchNumLogs"}, 7)
	s.IncrCounter([]string{"cnv", "raft", "leader", "dispatchNumLogs"}, 1) // same key, other type: dropped, no error
	text := gather(t, r)
	if strings.Contains(string(text), "n3") {
		t.Errorf("a peer id became part of a metric name:\n%s", text)
	}
	if probs := lint(t, text); len(probs) > 0 {
		t.Fatalf("lint problems: %v\n%s", probs, text)
	}
	for _, want := range []string{
		"cnv_raft_apply_total 3",
		`cnv_raft_net_rpc_decode_count{rpc_type="AppendEntries"} 1`,
		`cnv_raft_replication_append_entries_rpc_count{peer_id="n2"} 1`,
		"cnv_raft_leader_dispatch_num_logs 7",
		"# HELP cnv_raft_apply_total Raft's raft.apply",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{"appendEntries": "append_entries", "rpcDecode": "rpc_decode", "fsm": "fsm", "heartbeat_timeout": "heartbeat_timeout"} {
		if got := Name(in); got != "cnv_"+want {
			t.Errorf("%s: %s", in, got)
		}
	}
}
