package runner

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/cnv-project/cnv/jepsen/checker"
	"github.com/cnv-project/cnv/jepsen/harness"
	"github.com/cnv-project/cnv/jepsen/history"
	"github.com/cnv-project/cnv/jepsen/nemesis"
	"github.com/cnv-project/cnv/jepsen/report"
	"github.com/cnv-project/cnv/jepsen/workload"
)

// Options are one run's settings.
type Options struct {
	Scenario Scenario
	Seed     int64
	Duration time.Duration
	Nodes    int
	Workers  int
	Bin      string // the cnv-node binary
	OutDir   string // the run writes OutDir/<scenario>-<seed>/
	Keep     bool   // keep node data dirs even when the run passes (logs are always kept)
	Reads    string // workload read consistency; "stale" is a checker self-test
	Log      io.Writer
}

// Outcome is what one run produced.
type Outcome struct {
	Scenario string
	Seed     int64
	OK       bool
	Report   string
	Verdicts []checker.Verdict
}

// Command is the command line that reproduces a run.
func Command(o Options) string {
	cmd := fmt.Sprintf("go run ./jepsen --scenario %s --seed %d --duration %s --nodes %d --workers %d",
		o.Scenario.Name, o.Seed, o.Duration, o.Nodes, o.Workers)
	if o.Reads != "" && o.Reads != "linearizable" {
		cmd += " --reads " + o.Reads
	}
	return cmd
}

// Run performs one run and writes its report. An error means the run
// could not be carried out (the cluster did not start); checker failures
// are in the Outcome.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	dir := filepath.Join(o.OutDir, fmt.Sprintf("%s-%d", o.Scenario.Name, o.Seed))
	work := filepath.Join(dir, "cluster")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	logf(o.Log, "== %s seed %d: %d nodes, %v, logs in %s", o.Scenario.Name, o.Seed, o.Nodes, o.Duration, work)
	c, err := harness.Start(ctx, harness.Config{Bin: o.Bin, Dir: work, Nodes: o.Nodes, Seed: o.Seed})
	if err != nil {
		return nil, fmt.Errorf("starting the cluster: %w", err)
	}
	defer c.Close()
	h, err := drive(ctx, c, o)
	if err != nil {
		return nil, err
	}
	c.Close()
	t0 := time.Now()
	res := checker.Check(h, checker.Options{LinearizabilityTimeout: 2 * time.Minute})
	logf(o.Log, "   checked in %v", time.Since(t0).Round(time.Millisecond))
	path, err := report.Write(dir, h, res)
	if err != nil {
		return nil, err
	}
	if res.OK() && !o.Keep {
		for _, n := range c.Nodes() {
			os.RemoveAll(n.DataDir) // node logs stay beside the report
		}
	}
	for _, v := range res.Verdicts {
		logf(o.Log, "   %-26s %-7s %s", v.Name, v.Status, v.Summary)
	}
	return &Outcome{Scenario: o.Scenario.Name, Seed: o.Seed, OK: res.OK(), Report: path, Verdicts: res.Verdicts}, nil
}

// drive prepares the workload, runs it under the nemesis, heals and reads
// the final state.
func drive(ctx context.Context, c *harness.Cluster, o Options) (*history.History, error) {
	nLinks := int(o.Duration/(2*time.Second)) + 4
	setup, err := workload.Prepare(ctx, c.Admin, c.Addr("n1"), nLinks, 3, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("preparing the workload: %w", err)
	}
	defer setup.Close()
	rec := history.NewRecorder(time.Now)
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	nemErr := make(chan error, 1)
	go func() { nemErr <- runNemesis(runCtx, c, o, rec) }()
	workload.Run(runCtx, setup, c, rec, workload.Config{Workers: o.Workers, Mix: o.Scenario.Mix, Pace: 5 * time.Millisecond, Reads: o.Reads}, o.Seed)
	if err := <-nemErr; err != nil {
		logf(o.Log, "   nemesis: %v", err)
	}
	t0 := time.Now()
	if err := c.Heal(ctx); err != nil {
		logf(o.Log, "   heal: %v", err)
	}
	t1 := time.Now()
	final, unsettled := workload.ReadFinal(ctx, setup, c, time.Minute)
	if unsettled != "" {
		logf(o.Log, "   not settled after a minute: %s", unsettled)
	}
	for i := range final.Nodes {
		final.Nodes[i].Damaged = c.IsDamaged(final.Nodes[i].Node)
	}
	logf(o.Log, "   healed in %v, final state read in %v", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	for _, ns := range final.Nodes {
		logf(o.Log, "   final %s", workload.String(ns))
	}
	h := rec.History(o.Scenario.Name, o.Seed, Command(o))
	h.Final = final
	return h, nil
}

func runNemesis(ctx context.Context, c *harness.Cluster, o Options, rec *history.Recorder) error {
	if o.Scenario.Nemesis == nil {
		<-ctx.Done()
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x6e656d))
	return nemesis.Run(ctx, o.Scenario.Nemesis(c), o.Scenario.Schedule, rng, rec)
}

// Recheck re-runs the checkers on a saved history and writes a report
// beside it.
func Recheck(path string) (*Outcome, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := history.Decode(f)
	if err != nil {
		return nil, err
	}
	res := checker.Check(h, checker.Options{LinearizabilityTimeout: 5 * time.Minute})
	dir := filepath.Join(filepath.Dir(path), "recheck")
	out, err := report.Write(dir, h, res)
	if err != nil {
		return nil, err
	}
	return &Outcome{Scenario: h.Scenario, Seed: h.Seed, OK: res.OK(), Report: out, Verdicts: res.Verdicts}, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
