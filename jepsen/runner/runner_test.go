package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/jepsen/harness"
	"github.com/cnv-project/cnv/jepsen/history"
	"github.com/cnv-project/cnv/jepsen/workload"
)

func TestScenarioCatalogue(t *testing.T) {
	all := Scenarios()
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.Name] || s.Doc == "" || s.Mix == (workload.Mix{}) || s.Schedule.Active == 0 {
			t.Fatalf("scenario %+v: duplicate or incomplete", s.Name)
		}
		seen[s.Name] = true
	}
	got, err := Select("all")
	if err != nil || len(got) != len(all) {
		t.Fatalf("all: %d scenarios, %v", len(got), err)
	}
	got, err = Select("kill-leader, pause-leader")
	if err != nil || len(got) != 2 || got[1].Name != "pause-leader" {
		t.Fatalf("list: %v %v", got, err)
	}
	if _, err := Select("kill-leader,nope"); err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
}

func TestCommandReproduces(t *testing.T) {
	s, _ := Lookup("kill-leader")
	cmd := Command(Options{Scenario: s, Seed: 7, Duration: 30 * time.Second, Nodes: 5, Workers: 8})
	if cmd != "go run ./jepsen --scenario kill-leader --seed 7 --duration 30s --nodes 5 --workers 8" {
		t.Fatal(cmd)
	}
}

func TestRecheckFindsALostAck(t *testing.T) {
	dir := t.TempDir()
	h := &history.History{Scenario: "x", Seed: 1, Ops: []history.Op{
		{Kind: history.Append, Value: "a", Outcome: history.OK, Index: 0, HasIndex: true, Invoke: 1, End: 2}},
		Final: &history.Final{Ledger: []string{""}, Nodes: []history.NodeState{{Node: "n1", Size: 1, Root: "r"}}}}
	path := filepath.Join(dir, "history.json")
	f, _ := os.Create(path)
	history.Encode(f, h)
	f.Close()
	o, err := Recheck(path)
	if err != nil {
		t.Fatal(err)
	}
	if o.OK || !strings.HasSuffix(o.Report, "index.html") {
		t.Fatalf("recheck of a lost ack: ok=%v report %s", o.OK, o.Report)
	}
}

// processesRunning counts live processes whose command line mentions bin.
func processesRunning(t *testing.T, bin string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && strings.Contains(string(b), bin) {
			n++
		}
	}
	return n
}

func buildNode(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, "cnv-node")
	if err := harness.Build(context.Background(), filepath.Join(filepath.Dir(file), "..", ".."), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestInterruptedRunStopsEveryNode: cancelling a run (the jepsen command's
// SIGINT) still heals, reports and stops every process.
func TestInterruptedRunStopsEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dir := t.TempDir()
	bin := buildNode(t, dir)
	s, _ := Lookup("pause-leader")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(8*time.Second, cancel)
	start := time.Now()
	o, err := Run(ctx, Options{Scenario: s, Seed: 3, Duration: time.Hour, Nodes: 3, Workers: 2, Bin: bin, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 90*time.Second {
		t.Fatalf("an interrupted run took %v to stop", took)
	}
	if _, err := os.Stat(o.Report); err != nil {
		t.Fatalf("no report after an interrupt: %v", err)
	}
	if n := processesRunning(t, bin); n != 0 {
		t.Fatalf("%d cnv-node processes outlive the run", n)
	}
}

// TestRunAgainstRealNodes runs the baseline and one fault scenario end to
// end against real processes.
func TestRunAgainstRealNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dir := t.TempDir()
	bin := buildNode(t, dir)
	for _, name := range []string{"none", "kill-leader"} {
		s, _ := Lookup(name)
		s.Schedule.Quiet, s.Schedule.Active = time.Second, 2*time.Second
		var log bytes.Buffer
		o, err := Run(context.Background(), Options{Scenario: s, Seed: 5, Duration: 5 * time.Second, Nodes: 3,
			Workers: 4, Bin: bin, OutDir: dir, Log: &log})
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, log.String())
		}
		if !o.OK {
			t.Fatalf("%s failed its checks (%s):\n%s", name, o.Report, log.String())
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(o.Report), "history.json")); err != nil {
			t.Fatal(err)
		}
	}
}
