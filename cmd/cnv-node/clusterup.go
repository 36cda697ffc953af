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
	restartDead               bool
	insecure, verifyIncoming  bool
}

func newClusterUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up [--nodes 3] [--data-dir ./data]",
		Short: "Start a local cluster of real cnv-node processes on loopback (Ctrl-C stops it)",
		Long: `Start a local cluster: one cnv-node agent process per node on 127.0.0.1, each
with its own data directory under --data-dir (logs in DIR/nN/node.log). The first
node bootstraps with an admin key (written to DIR/admin.key once); the others
join it. Running it again on the same --data-dir restarts the same cluster.
DIR/cluster.env sets the CLI's environment for the cluster: . DIR/cluster.env

The cluster runs with TLS (a CA and certificates in DIR/tls: a node
certificate per node and a client certificate "ops" for the CLI), an
encrypted gossip key (DIR/gossip.key) and a cluster token
(DIR/cluster.token), all made on the first run. --insecure runs plaintext
instead (loopback only).

A node that dies does not stop the others: the supervisor reports which node
died and how (exit status or signal) and keeps the rest serving. With
--restart-dead it restarts a dead node on its own (backoff from 1s to 30s); without
it, send the supervisor SIGUSR1 to restart every dead node:
  kill -USR1 $(cat DIR/cluster-up.pid)
A restarted node rejoins with its data. Each node's pid is in DIR/nN/node.pid.`,
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
	cmd.Flags().BoolVar(&f.restartDead, "restart-dead", false, "restart a node that dies, with backoff (otherwise: kill -USR1 the supervisor)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "run the nodes without TLS and without gossip encryption (plaintext on loopback)")
	cmd.Flags().BoolVar(&f.verifyIncoming, "verify-incoming", false, "with TLS: every API client must present a certificate of the cluster's CA (cluster.env points the CLI at one)")
	return cmd
}

type upNode struct {
	id, dir, raft, http, gossip, hot string
	args                             []string
	cmd                              *exec.Cmd
	// done is closed when the process exited; err is then its exit.
	done    chan struct{}
	err     error
	started time.Time
	// restarts counts restarts in a row that died soon after starting
	// (the backoff grows with it).
	restarts int
	// reported is the done channel of the last process whose death the
	// supervisor reported.
	reported chan struct{}
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
	sec, err := ensureSecurity(f)
	if err != nil {
		return exitWith(exitError, "%v", err)
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
		args = append(args, sec.agentArgs(n.id, f.verifyIncoming)...)
		if n.hot != "" {
			args = append(args, "--hot-addr", n.hot)
		}
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", nodes[0].http)
		}
		n.args = args
		if err := startNode(exe, n); err != nil {
			return exitWith(exitError, "%s: %v", n.id, err)
		}
	}
	// All nodes start at once: a restarted cluster needs a quorum before
	// any node is ready, and joining nodes retry until the first is up.
	for _, n := range nodes {
		if err := waitReadyOn(sec.client, n.http, n.done, 60*time.Second); err != nil {
			return exitWith(exitError, "%s did not become ready: %v (see %s)", n.id, err, filepath.Join(n.dir, "node.log"))
		}
	}
	if err := waitAllVoters(sec.client, nodes, 60*time.Second); err != nil {
		return exitWith(exitError, "the nodes did not all become voters: %v", err)
	}
	pidFile := filepath.Join(f.dataDir, "cluster-up.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o600); err != nil {
		return exitWith(exitError, "%v", err)
	}
	defer os.Remove(pidFile)
	envFile := filepath.Join(f.dataDir, "cluster.env")
	token, err := os.ReadFile(tokenFile)
	if err == nil {
		err = writeEnv(envFile, nodes, adminBase+".key", strings.TrimSpace(string(token)), sec)
	}
	if err != nil {
		return exitWith(exitError, "%s: %v", envFile, err)
	}
	printUp(cmd.OutOrStdout(), nodes, adminBase+".key", envFile, displayPath(exe))
	fmt.Fprintf(cmd.OutOrStdout(), "A dead node is %s.\n", restartHint(f.restartDead, pidFile))
	sv := &supervisor{cl: sec.client, exe: exe, nodes: nodes, out: cmd.ErrOrStderr(), restart: f.restartDead}
	return sv.run()
}

func restartHint(auto bool, pidFile string) string {
	if auto {
		return "restarted on its own (--restart-dead)"
	}
	return "restarted with: kill -USR1 $(cat " + pidFile + ")"
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

func startNode(exe string, n *upNode) error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(exe, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.started, n.done = time.Now(), make(chan struct{})
	os.WriteFile(filepath.Join(n.dir, "node.pid"), []byte(fmt.Sprintf("%d\n", n.cmd.Process.Pid)), 0o600)
	go func(cmd *exec.Cmd, done chan struct{}) {
		n.err = cmd.Wait()
		logf.Close()
		close(done)
	}(n.cmd, n.done)
	return nil
}

// exited reports whether n's process has exited.
func (n *upNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// waitReadyOn polls the node at addr until it is ready, its process
// exits (done closes) or d passes.
func waitReadyOn(cl *client.Client, addr string, done chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("process exited")
		default:
		}
		if last = cl.Get(context.Background(), addr, "/readyz", nil); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// waitAllVoters waits until every node is a Raft voter (with gossip, a
// joined server is promoted once it has been stable a while), so that the
// cluster announced as up tolerates the loss of a node.
func waitAllVoters(cl *client.Client, nodes []*upNode, d time.Duration) error {
	addrs := joinAddrs(nodes, func(n *upNode) string { return n.http })
	deadline := time.Now().Add(d)
	for {
		voters, err := countVoters(cl, addrs)
		if err == nil && voters == len(nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d voters (%v)", voters, len(nodes), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countVoters(cl *client.Client, addrs string) (int, error) {
	ms, err := cl.Members(context.Background(), addrs)
	n := 0
	for _, m := range ms {
		if m.Raft == "voter" {
			n++
		}
	}
	return n, err
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

func printUp(w io.Writer, nodes []*upNode, adminKey, envFile, bin string) {
	fmt.Fprintf(w, "cnv cluster of %d nodes is up\n\n", len(nodes))
	for _, n := range nodes {
		fmt.Fprintf(w, "  %s  http %s  raft %s  gossip %s  hot %s  data %s\n", n.id, n.http, n.raft, orDefault(n.gossip, "-"), orDefault(n.hot, "-"), n.dir)
	}
	fmt.Fprintf(w, "\nadmin key: %s\n\ntry (docs/QUICKSTART.md goes on from here):\n", adminKey)
	fmt.Fprintf(w, "  . %s     # CNV_ADDR (every node), CNV_KEY, CNV_TOKEN, CNV_HOT_ADDR, CNV_CA/CNV_CERT/CNV_KEY_FILE\n", envFile)
	fmt.Fprintf(w, "  %s cluster members\n", bin)
	fmt.Fprintf(w, "  %s capability register docs/examples/caps.json\n", bin)
	fmt.Fprintf(w, "  %s invoke user create --name alice\n", bin)
	fmt.Fprintf(w, "  %s ledger query --type PolicyDecision\n", bin)
	fmt.Fprintf(w, "\nCtrl-C stops the cluster (data stays in place; run again to restart it).\n")
}

// writeEnv writes the shell environment that points the CLI at the
// cluster: every node (failover), the admin key, the token, a hot-path
// address and each node's own address.
func writeEnv(path string, nodes []*upNode, adminKey, token string, sec *upSecurity) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by cnv-node cluster up; use it with: . %s\n", path)
	fmt.Fprintf(&b, "export CNV_ADDR=%s\n", joinAddrs(nodes, func(n *upNode) string { return n.http }))
	fmt.Fprintf(&b, "export CNV_KEY=%s\nexport CNV_TOKEN=%s\n", adminKey, token)
	if sec.tls != nil {
		fmt.Fprintf(&b, "export CNV_CA=%s\nexport CNV_CERT=%s\nexport CNV_KEY_FILE=%s\n", sec.tls.CA, sec.tls.Cert, sec.tls.Key)
	}
	if nodes[0].hot != "" {
		fmt.Fprintf(&b, "export CNV_HOT_ADDR=%s\n", joinAddrs(nodes, func(n *upNode) string { return n.hot }))
	}
	for _, n := range nodes {
		fmt.Fprintf(&b, "export CNV_%s_ADDR=%s\n", strings.ToUpper(n.id), n.http)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// stopNodes sends SIGTERM to every running node, then SIGKILL to any
// still running after 10s.
func stopNodes(errw io.Writer, nodes []*upNode) {
	for _, n := range nodes {
		if n != nil && n.cmd != nil && n.done != nil && !n.exited() {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range nodes {
		if n == nil || n.done == nil {
			continue
		}
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(errw, "%s did not stop; killing it\n", n.id)
			n.cmd.Process.Kill()
			<-n.done
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
