package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/runtime/capability"
)

func TestRunLoad(t *testing.T) {
	n := newNode(t, nodeOpts{})
	_, s1 := n.open(CounterPath, capability.MutateState)
	_, s2 := n.open(CounterPath, capability.MutateState)
	rep, err := client.RunLoad(ctx(t), client.LoadConfig{Sessions: []*client.Session{s1, s2}, Nodes: 1, Duration: 200 * time.Millisecond, Pipeline: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed == 0 || rep.Errors != 0 || rep.Denied != 0 || rep.Clients != 2 || rep.Batch != 8 ||
		rep.P50ms <= 0 || rep.P99ms < rep.P50ms || rep.MaxMs < rep.P999ms || rep.FirstError != "" {
		t.Fatalf("%+v", rep)
	}
	// Every answered invocation ran exactly once.
	if got := n.builtins.total(); got != uint64(rep.Committed) {
		t.Fatalf("counter %d, committed %d", got, rep.Committed)
	}
}

func TestRunLoadCountsRefusals(t *testing.T) {
	n := newNode(t, nodeOpts{authority: func(a *CertAuthority) Authority { return &recordingAuthority{Authority: a, lease: 50} }})
	_, s := n.open(EchoPath, capability.ReadOnly)
	rep, err := client.RunLoad(ctx(t), client.LoadConfig{Sessions: []*client.Session{s}, Duration: 100 * time.Millisecond, Pipeline: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 50 || rep.Refused == 0 || !strings.Contains(rep.FirstError, "quota") {
		t.Fatalf("%+v", rep)
	}
}

func TestRunLines(t *testing.T) {
	n := newNode(t, nodeOpts{})
	_, s := n.open(CounterPath, capability.MutateState)
	var out bytes.Buffer
	ok, failed, err := client.RunLines(ctx(t), s, strings.NewReader("\n5\nnope\n\n2\n"), &out)
	if err != nil || ok != 2 || failed != 1 {
		t.Fatalf("%d %d %v", ok, failed, err)
	}
	want := "5\nerror: InvalidInput: " + ErrBadCount.Error() + "\n7\n"
	if out.String() != want {
		t.Fatalf("%q, want %q", out.String(), want)
	}
}
