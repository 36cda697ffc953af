package checker

import (
	"strings"
	"testing"

	"github.com/cnv-project/cnv/jepsen/history"
)

func nodes(ns ...history.NodeState) *history.Final {
	return &history.Final{Ledger: []string{"a", "b"}, Nodes: ns}
}

func TestConvergencePasses(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r"}, history.NodeState{Node: "n2", Size: 2, Root: "r"},
		history.NodeState{Node: "n3", Error: "refused: ledger damaged", Damaged: true})
	f.Checkpoints = map[uint64][]string{1: {"x", "x"}, 2: {"r"}}
	wantPass(t, Convergence(f))
}

func TestConvergenceDiverged(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r"}, history.NodeState{Node: "n2", Size: 2, Root: "s"})
	wantFail(t, Convergence(f), "diverged", "n2")
	f = nodes(history.NodeState{Node: "n1", Size: 2, Root: "r"}, history.NodeState{Node: "n2", Size: 1, Root: "r"})
	wantFail(t, Convergence(f), "diverged", "size 1")
}

func TestConvergenceStoreFailsVerification(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r", Verified: true, VerifyOK: true, VerifySize: 2, VerifyRoot: "r"},
		history.NodeState{Node: "n2", Size: 2, Root: "r", Verified: true, VerifySize: 2, VerifyRoot: "x"})
	wantFail(t, Convergence(f), "damaged store", "n2")
	f.Nodes[1].VerifyOK = true
	wantFail(t, Convergence(f), "damaged store", "n2", "at size 2")
	f.Nodes[1].VerifyRoot = "r"
	wantPass(t, Convergence(f))
}

// A verify that saw a larger ledger than the status read before it is
// not evidence of damage, but it is not a consistent cut either: the
// run must not pass on it (ReadFinal repeats its reads until they agree).
func TestConvergenceVerifyAtAnotherSize(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r", Verified: true, VerifyOK: true, VerifySize: 3, VerifyRoot: "s"})
	v := Convergence(f)
	wantFail(t, v, "not a consistent cut", "n1")
	for _, p := range v.Problems {
		if strings.Contains(p, "damaged") {
			t.Fatalf("a moved ledger reported as damage: %q", p)
		}
	}
}

func TestConvergenceNodeDown(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r"}, history.NodeState{Node: "n2", Error: "connection refused"})
	wantFail(t, Convergence(f), "down", "n2")
}

func TestConvergenceFinalLedgerDisagrees(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 3, Root: "r"})
	wantFail(t, Convergence(f), "2 events", "size 3")
}

func TestConvergenceCheckpointFork(t *testing.T) {
	f := nodes(history.NodeState{Node: "n1", Size: 2, Root: "r"})
	f.Checkpoints = map[uint64][]string{1: {"x", "y"}}
	wantFail(t, Convergence(f), "checkpoint fork", "size 1")
}

func TestConvergenceNobodyServes(t *testing.T) {
	wantFail(t, Convergence(nodes(history.NodeState{Node: "n1", Error: "down", Damaged: true})), "no node serves")
	wantFail(t, Convergence(nil), "no node states")
}

func TestCheckAll(t *testing.T) {
	var h hb
	h.appendOK("a", 0, 0, 1)
	h.invoke("k", 1, A, 1, 0, 1)
	hist := &history.History{Ops: h.ops, Final: &history.Final{Ledger: []string{"a", ""},
		Nodes: []history.NodeState{{Node: "n1", Size: 2, Root: "r"}}}}
	r := Check(hist, Options{})
	if !r.OK() || len(r.Verdicts) != 4 {
		t.Fatalf("%+v", r.Verdicts)
	}
	hist.Final.Ledger = []string{"", ""}
	if r := Check(hist, Options{}); r.OK() {
		t.Fatal("a lost acknowledged append passed the full check")
	}
}
