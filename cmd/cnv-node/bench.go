package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/bench"
	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// benchCaps is the capability `cnv-node bench` registers when the cluster
// lacks the one it is asked to invoke.
const benchCaps = `{"capabilities":[{"path":"bench.run","effects":["read_only"],"description":"no-op capability for load tests"}]}`

func newBenchCmd() *cobra.Command {
	var clients, batch, valueBytes, presign int
	var wireFormat string
	var duration time.Duration
	var capPath string
	var hot hotBench
	var hotOn bool
	var hotAddrs string
	cmd := &cobra.Command{
		Use:   "bench --addr A,B,C --key ADMIN.key [--clients N] [--duration D] [--batch B] | --hot --hot-addr H1,H2,H3 [--connections N] [--pipeline P]",
		Short: "Measure committed invocations/s and latency against a cluster",
		Long: `Run N clients that invoke a capability through the given nodes (client i uses
node i mod len) for a duration, each sending signed batches of --batch
invocations, and report committed invocations/s and p50/p99/p99.9 latency per
request. It registers bench.run (read_only) with the key when missing.

With --hot it measures the hot path instead, with the built-in FastPath
capabilities hot.counter and hot.echo: it obtains one certificate per connection through --addr with the key, opens one session per connection
on the --hot-addr addresses (round-robin) and keeps --pipeline invocations in
flight on each; latency is per invocation. With --max-uses N the sessions run
as a fresh agent under a delegation link with max_uses N, so they lease their
uses through Raft (the run ends refusing with quota exhausted once N are spent).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := addrsOf(cmd)
			if err != nil {
				return err
			}
			key, err := keyOf(cmd)
			if err != nil {
				return err
			}
			tlsc, err := tlsOf(cmd)
			if err != nil {
				return err
			}
			if hotOn {
				hot.tls = tlsc
				hot.apiAddrs, hot.hotAddrs, hot.key, hot.duration = addrs, strings.Split(hotAddrs, ","), key, duration
				if hot.capPath = capPath; !cmd.Flags().Changed("capability") {
					hot.capPath = "hot.echo"
				}
				return runHotBench(cmd, hot)
			}
			if wireFormat != "msgpack" && wireFormat != "json" {
				return exitWith(exitUsage, "--wire %q: want msgpack or json", wireFormat)
			}
			cl := client.New(client.Options{Key: key, Timeout: 30 * time.Second, MaxConnsPerHost: clients + 8, TLS: tlsc,
				Msgpack: wireFormat == "msgpack"})
			defer cl.Close()
			if err := ensureBenchCapability(cmd, cl, addrs[0], capPath); err != nil {
				return err
			}
			cfg := bench.Config{Addrs: addrs, Client: cl, Clients: clients, Duration: duration, Batch: batch, Capability: capPath,
				ValueBytes: valueBytes, Presign: presign, Key: key}
			if isTerminal(os.Stderr) && !jsonOutput(cmd) {
				cfg.Progress = func(el time.Duration, n, e int64) {
					fmt.Fprintf(cmd.ErrOrStderr(), "\r%5.1fs  %9d committed  %8.0f/s  %d errors ", el.Seconds(), n, float64(n)/el.Seconds(), e)
				}
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			if cfg.Progress != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			return emit(cmd, rep, func(w io.Writer) { printBench(w, rep) })
		},
	}
	addRemoteFlags(cmd, true)
	cmd.Flags().IntVar(&clients, "clients", 16, "concurrent clients")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "how long to run")
	cmd.Flags().IntVar(&batch, "batch", 1, "invocations per signed request")
	cmd.Flags().IntVar(&valueBytes, "value-bytes", 400, "size of the value argument each invocation carries")
	cmd.Flags().IntVar(&presign, "presign", 0, "sign this many requests per client before the clock starts and send only those (the cluster's cost without the generator's signing)")
	cmd.Flags().StringVar(&wireFormat, "wire", "msgpack", "request and answer encoding: msgpack or json")
	cmd.Flags().StringVar(&capPath, "capability", "bench.run", "capability to invoke (with --hot: hot.echo unless set)")
	cmd.Flags().BoolVar(&hotOn, "hot", false, "measure the hot path: certified sessions over --hot-addr instead of API invocations")
	cmd.Flags().StringVar(&hotAddrs, "hot-addr", "", "with --hot: the nodes' hot-path addresses A,B,C (connection i uses address i mod len)")
	cmd.Flags().IntVar(&hot.connections, "connections", 3, "with --hot: connections, one session (and certificate) each")
	cmd.Flags().IntVar(&hot.pipeline, "pipeline", 64, "with --hot: invocations in flight per session")
	cmd.Flags().IntVar(&hot.argsLen, "args-bytes", 16, "with --hot: bytes of arguments per invocation")
	cmd.Flags().Uint64Var(&hot.maxUses, "max-uses", 0, "with --hot: run as a delegated agent under a link with this max_uses (quota leased through Raft)")
	return cmd
}

func ensureBenchCapability(cmd *cobra.Command, cl *client.Client, addr, capPath string) error {
	if capPath != "bench.run" {
		return nil
	}
	_, err := cl.Invoke(cmd.Context(), addr, invocationOf("capability.register", []byte(benchCaps)))
	var ae *client.APIError
	if err == nil || errors.As(err, &ae) && ae.Err.Kind == cnverr.Conflict {
		return nil // registered now, or before
	}
	return remoteErr(err)
}

func printBench(w io.Writer, r *bench.Report) {
	fmt.Fprintf(w, "clients %d, batch %d, %d nodes, %.1fs\n", r.Clients, r.Batch, r.Nodes, r.DurationS)
	fmt.Fprintf(w, "committed   %d (%.0f/s)\ndenied      %d\nerrors      %d\n", r.Committed, r.Throughput, r.Denied, r.Errors)
	fmt.Fprintf(w, "latency     p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms (per request)\n", r.P50ms, r.P99ms, r.P999ms, r.MaxMs)
	if r.NodeCPUus > 0 {
		fmt.Fprintf(w, "node cpu    %.1f µs per invocation (all nodes), largest node %d MiB resident\n", r.NodeCPUus, r.NodeRSSBytes>>20)
	}
	fmt.Fprintf(w, "bench cpu   %.1f µs per invocation, %.0f%% of the machine", r.ClientCPUus, 100*r.ClientCPUShare)
	if r.Presigned {
		fmt.Fprint(w, " (presigned)")
	}
	fmt.Fprintln(w)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
