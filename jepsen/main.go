package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cnv-project/cnv/jepsen/harness"
	"github.com/cnv-project/cnv/jepsen/report"
	"github.com/cnv-project/cnv/jepsen/runner"
)

type flags struct {
	scenario, bin, out, check string
	reads                     string
	seed                      int64
	duration                  time.Duration
	nodes, runs, workers      int
	keep, list                bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("jepsen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.scenario, "scenario", "partition-majority", "scenario name, a comma list, or all")
	fs.Int64Var(&f.seed, "seed", 0, "seed (0: from the clock); run i of a campaign uses seed+i")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "workload duration per run")
	fs.IntVar(&f.nodes, "nodes", 3, "cluster size")
	fs.IntVar(&f.workers, "workers", 8, "concurrent client workers")
	fs.IntVar(&f.runs, "runs", 1, "runs per scenario")
	fs.StringVar(&f.bin, "bin", "", "cnv-node binary built with -tags cnvtest (default: build ./cmd/cnv-node so into the output dir)")
	fs.StringVar(&f.out, "out", filepath.Join(os.TempDir(), "cnv-jepsen"), "output directory")
	fs.StringVar(&f.check, "check", "", "re-check a saved history.json instead of running")
	fs.BoolVar(&f.keep, "keep", false, "keep node data dirs of passing runs (node logs are always kept)")
	fs.BoolVar(&f.list, "list", false, "list the scenarios")
	fs.StringVar(&f.reads, "reads", "linearizable", "workload read consistency; stale is a self-test that must fail under partitions")
	return f, fs.Parse(args)
}

func main() {
	f, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, f, os.Stdout)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, f flags, out io.Writer) int {
	switch {
	case f.list:
		for _, s := range runner.Scenarios() {
			fmt.Fprintf(out, "%-24s %s\n", s.Name, s.Doc)
		}
		return 0
	case f.check != "":
		o, err := runner.Recheck(f.check)
		if err != nil {
			fmt.Fprintln(out, "jepsen:", err)
			return 2
		}
		return finish(out, o.OK, o.Report)
	}
	scens, err := runner.Select(f.scenario)
	if err != nil {
		fmt.Fprintln(out, "jepsen:", err)
		return 2
	}
	if f.bin == "" {
		if f.bin, err = build(ctx, f.out); err != nil {
			fmt.Fprintln(out, "jepsen:", err)
			return 1
		}
	}
	return campaign(ctx, f, scens, out)
}

func build(ctx context.Context, outDir string) (string, error) {
	root, err := os.Getwd()
	if err != nil {
		return "", err
	}
	bin, err := filepath.Abs(filepath.Join(outDir, "bin", "cnv-node"))
	if err != nil {
		return "", err
	}
	return bin, harness.Build(ctx, root, bin)
}

func campaign(ctx context.Context, f flags, scens []runner.Scenario, out io.Writer) int {
	if f.seed == 0 {
		f.seed = time.Now().UnixNano() % 1_000_000_000
	}
	var rows []report.SummaryRow
	ok := true
	for i := range f.runs {
		for _, s := range scens {
			if ctx.Err() != nil {
				return finish(out, false, "interrupted")
			}
			row := runOne(ctx, f, s, f.seed+int64(i), out)
			ok = ok && row.OK
			rows = append(rows, row)
		}
	}
	if len(rows) == 1 {
		return finish(out, ok, rows[0].Report)
	}
	path, _ := filepath.Abs(filepath.Join(f.out, "summary.html"))
	if err := report.WriteSummary(path, rows); err != nil {
		fmt.Fprintln(out, "jepsen: summary:", err)
		return 1
	}
	return finish(out, ok, path)
}

func runOne(ctx context.Context, f flags, s runner.Scenario, seed int64, out io.Writer) report.SummaryRow {
	o, err := runner.Run(ctx, runner.Options{Scenario: s, Seed: seed, Duration: f.duration, Nodes: f.nodes,
		Workers: f.workers, Bin: f.bin, OutDir: f.out, Keep: f.keep, Reads: f.reads, Log: out})
	if err != nil {
		fmt.Fprintf(out, "   run failed: %v\n", err)
		return report.SummaryRow{Scenario: s.Name, Seed: seed, Error: err.Error()}
	}
	n := 0
	for _, v := range o.Verdicts {
		n += v.Count
	}
	res := "PASS"
	if !o.OK {
		res = "FAIL"
	}
	fmt.Fprintf(out, "   %s %s seed %d: %s\n", res, s.Name, seed, o.Report)
	return report.SummaryRow{Scenario: s.Name, Seed: seed, OK: o.OK, Report: o.Report, Problems: n}
}

// finish prints the verdict and, as the last line, the report's path.
func finish(out io.Writer, ok bool, path string) int {
	if ok {
		fmt.Fprintln(out, "jepsen: every checker passed")
	} else {
		fmt.Fprintln(out, "jepsen: FAILED")
	}
	fmt.Fprintln(out, path)
	if ok {
		return 0
	}
	return 1
}
