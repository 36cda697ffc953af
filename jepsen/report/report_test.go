package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/jepsen/checker"
	"github.com/cnv-project/cnv/jepsen/history"
)

func sample() *history.History {
	ms := int64(time.Millisecond)
	return &history.History{Scenario: "partition-majority", Seed: 42, Command: "go run ./jepsen --scenario partition-majority --seed 42",
		Ops: []history.Op{
			{ID: 0, Kind: history.Append, Value: "c-1", Node: "n1", Outcome: history.OK, Invoke: 0, End: 3 * ms, Index: 0, HasIndex: true},
			{ID: 1, Kind: history.Invoke, Key: "abc", MaxUses: 1, Node: "n2", Outcome: history.OK, Decision: history.Allow, Uses: 1, Invoke: ms, End: 1500 * ms},
			{ID: 2, Kind: history.Invoke, Key: "abc", MaxUses: 1, Node: "n3", Outcome: history.Unknown, Invoke: 2 * ms, End: 2500 * ms},
		},
		Faults: []history.Fault{{Nemesis: "partition-majority", Detail: "<script>alert(1)</script>", Start: 100 * ms, End: 2000 * ms}},
		Final:  &history.Final{Ledger: []string{"c-1", ""}, Nodes: []history.NodeState{{Node: "n1", Size: 2, Root: "ab"}}},
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	h := sample()
	res := checker.Check(h, checker.Options{})
	path, err := Write(filepath.Join(dir, "run"), h, res)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{"PASS", "seed <b>42</b>", h.Command, "counter-linearizability", "convergence",
		"<svg", "partition-majority", "&lt;script&gt;", `src="counter.html"`} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>alert") {
		t.Error("fault detail not escaped")
	}
	for _, f := range []string{CounterFile, HistoryFile} {
		if _, err := os.Stat(filepath.Join(dir, "run", f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	counter, _ := os.ReadFile(filepath.Join(dir, "run", CounterFile))
	if !strings.Contains(string(counter), "nemesis") {
		t.Error("the counter visualisation does not show the faults")
	}
	hf, _ := os.Open(filepath.Join(dir, "run", HistoryFile))
	defer hf.Close()
	if back, err := history.Decode(hf); err != nil || len(back.Ops) != 3 {
		t.Fatalf("history.json: %v", err)
	}
}

func TestWriteReportShowsFailure(t *testing.T) {
	h := sample()
	h.Final.Ledger = []string{"", ""} // the acknowledged append is lost
	h.Ops = h.Ops[:1]
	path, err := Write(t.TempDir(), h, checker.Check(h, checker.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	if !strings.Contains(string(page), "FAIL") || !strings.Contains(string(page), "lost: acknowledged append") {
		t.Fatal("a failed run's page does not say so")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), CounterFile)); !os.IsNotExist(err) {
		t.Fatalf("no counter ops but counter.html written: %v", err)
	}
}

func TestNiceStep(t *testing.T) {
	for span, want := range map[time.Duration]time.Duration{
		5 * time.Second: time.Second, 60 * time.Second: 10 * time.Second, 300 * time.Second: 50 * time.Second,
	} {
		if got := time.Duration(niceStep(float64(span))); got != want {
			t.Errorf("span %v: step %v, want %v", span, got, want)
		}
	}
}
