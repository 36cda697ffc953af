package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/principal"
)

type upFlags struct {
	nodes, raftPort, httpPort int
	gossipPort, hotPort       int
	dataDir, logLevel         string
}

func newClusterUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up [--nodes 3] [--data-dir ./data]",
		Short: "Start a local cluster of real cnv-node processes on loopback (Ctrl-C stops it)",
		Long: `Start a local cluster: one cnv-node agent process per node on 127.0.0.1, each
with its own data directory under --data-dir (logs in DIR/nN/node.log). The first
node bootstraps with an admin key (written to DIR/admin.key once); the others
join it. Running it again on the same --data-dir restarts the same cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runClusterUp(cmd, f) },
	}
	cmd.Flags().IntVar(&f.nodes, "nodes", 3, "number of nodes")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "./data", "parent directory of the nodes' data directories")
	cmd.Flags().IntVar(&f.raftPort, "raft-port", 7001, "Raft port of the first node (the others count up)")
	cmd.Flags().IntVar(&f.httpPort, "http-port", 8001, "HTTP port of the first node (the others count up)")
	cmd.Flags().IntVar(&f.gossipPort, "gossip-port", 7101, "gossip port of the first node (the others count up; 0 turns gossip off)")
	cmd.Flags().IntVar(&f.hotPort, "hot-port", 9001, "hot-path port of the first node (the others count up; 0 turns the hot path off)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "nodes' log level")
	return cmd
}

type upNode struct {
	id, dir, raft, http, gossip, hot string
	cmd                              *exec.Cmd
	exited                           chan error
}

func runClusterUp(cmd *cobra.Command, f upFlags) error {
	if f.nodes < 1 || f.nodes > 9 {
		return exitWith(exitUsage, "--nodes must be between 1 and 9")
	}
	exe, err := os.Executable()
	if err != nil {
		return exitWith(exitError, "%v", err)
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return exitWith(exitError, "%v", err)
	}
	adminBase := filepath.Join(f.dataDir, "admin")
	if err := ensureKeyPair(adminBase); err != nil {
		return exitWith(exitError, "admin key: %v", err)
	}
	tokenFile := filepath.Join(f.dataDir, "cluster.token")
	if err := ensureToken(tokenFile); err != nil {
		return exitWith(exitError, "cluster token: %v", err)
	}
	nodes := make([]*upNode, f.nodes)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		nodes[i] = &upNode{id: id, dir: filepath.Join(f.dataDir, id),
			raft: fmt.Sprintf("127.0.0.1:%d", f.raftPort+i), http: fmt.Sprintf("127.0.0.1:%d", f.httpPort+i)}
		if f.gossipPort > 0 {
			nodes[i].gossip = fmt.Sprintf("127.0.0.1:%d", f.gossipPort+i)
		}
		if f.hotPort > 0 {
			nodes[i].hot = fmt.Sprintf("127.0.0.1:%d", f.hotPort+i)
		}
	}
	defer stopNodes(cmd.ErrOrStderr(), nodes)
	for i, n := range nodes {
		args := []string{"agent", "--node-id", n.id, "--data-dir", n.dir, "--raft-addr", n.raft, "--http-addr", n.http,
			"--admin-key", adminBase + ".pub", "--log-level", f.logLevel, "--cluster-token-file", tokenFile}
		if n.gossip != "" {
			args = append(args, "--gossip-addr", n.gossip, "--autopilot-stabilization", "3s")
		}
		if n.hot != "" {
			args = append(args, "--hot-addr", n.hot)
		}
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", nodes[0].http)
		}
		if err := startNode(exe, n, args); err != nil {
			return exitWith(exitError, "%s: %v", n.id, err)
		}
	}
	// All nodes start at once: a restarted cluster needs a quorum before
	// any node is ready, and joining nodes retry until the first is up.
	for _, n := range nodes {
		if err := waitReady(n, 60*time.Second); err != nil {
			return exitWith(exitError, "%s did not become ready: %v (see %s)", n.id, err, filepath.Join(n.dir, "node.log"))
		}
	}
	printUp(cmd.OutOrStdout(), nodes, adminBase+".key", displayPath(exe))
	return waitUp(cmd.ErrOrStderr(), nodes)
}

// ensureToken writes a random cluster token to path unless it exists.
func ensureToken(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b[:])+"\n"), 0o600)
}

func ensureKeyPair(base string) error {
	if _, err := os.Stat(base + ".key"); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	pub, priv, err := principal.Generate(rand.Reader)
	if err != nil {
		return err
	}
	return principal.WriteKeyPair(base, pub, priv)
}

func startNode(exe string, n *upNode, args []string) error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(exe, args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.exited = make(chan error, 1)
	go func() { n.exited <- n.cmd.Wait(); logf.Close() }()
	return nil
}

func waitReady(n *upNode, d time.Duration) error {
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	defer cl.Close()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-n.exited:
			n.exited <- err
			return fmt.Errorf("process exited: %v", err)
		default:
		}
		if last = cl.Get(context.Background(), n.http, "/readyz", nil); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// displayPath is exe relative to the working directory when it is below it.
func displayPath(exe string) string {
	wd, err := os.Getwd()
	if err != nil {
		return exe
	}
	if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return exe
}

func printUp(w io.Writer, nodes []*upNode, adminKey, bin string) {
	fmt.Fprintf(w, "cnv cluster of %d nodes is up\n\n", len(nodes))
	for _, n := range nodes {
		fmt.Fprintf(w, "  %s  http %s  raft %s  gossip %s  hot %s  data %s\n", n.id, n.http, n.raft, orDefault(n.gossip, "-"), orDefault(n.hot, "-"), n.dir)
	}
	a := nodes[0].http
	fmt.Fprintf(w, "\nadmin key: %s\n\ntry:\n", adminKey)
	fmt.Fprintf(w, "  export CNV_ADDR=%s CNV_KEY=%s CNV_TOKEN=$(cat %s)\n", a, adminKey, filepath.Join(filepath.Dir(adminKey), "cluster.token"))
	fmt.Fprintf(w, "  %s cluster members\n", bin)
	fmt.Fprintf(w, "  %s capability register runtime/graph/testdata/caps.json\n", bin)
	fmt.Fprintf(w, "  %s invoke --addr %s user create --name alice\n", bin, nodes[len(nodes)-1].http)
	fmt.Fprintf(w, "  %s ledger query --addr %s\n", bin, a)
	if nodes[0].hot != "" {
		fmt.Fprintf(w, "  %s bench --hot --addr %s --hot-addr %s\n", bin, joinAddrs(nodes, func(n *upNode) string { return n.http }),
			joinAddrs(nodes, func(n *upNode) string { return n.hot }))
	}
	fmt.Fprintf(w, "\nCtrl-C stops the cluster (data stays in place; run again to restart it).\n")
}

// waitUp blocks until a signal (then stops the nodes) or until a node
// dies. A node that exits cleanly (it left the cluster) is reported and
// the others keep running.
func waitUp(errw io.Writer, nodes []*upNode) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	died := make(chan *upNode, len(nodes))
	for _, n := range nodes {
		go func() {
			err := <-n.exited
			n.exited <- err
			died <- n
		}()
	}
	for running := len(nodes); running > 0; running-- {
		select {
		case <-sig:
			fmt.Fprintln(errw, "stopping the cluster")
			return nil
		case n := <-died:
			if err := <-n.exited; err != nil {
				n.exited <- err
				return exitWith(exitError, "%s exited unexpectedly (%v); see %s", n.id, err, filepath.Join(n.dir, "node.log"))
			}
			n.exited <- nil
			fmt.Fprintf(errw, "%s left the cluster and stopped\n", n.id)
		}
	}
	return nil
}

// stopNodes sends SIGTERM to every running node, then SIGKILL to any
// still running after 10s.
func stopNodes(errw io.Writer, nodes []*upNode) {
	for _, n := range nodes {
		if n != nil && n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range nodes {
		if n == nil || n.cmd == nil || n.exited == nil {
			continue
		}
		select {
		case err := <-n.exited:
			n.exited <- err
		case <-time.After(10 * time.Second):
			fmt.Fprintf(errw, "%s did not stop; killing it\n", n.id)
			n.cmd.Process.Kill()
		}
	}
}

func joinAddrs(nodes []*upNode, f func(*upNode) string) string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = f(n)
	}
	return strings.Join(out, ",")
}
