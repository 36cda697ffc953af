package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/tlsutil"
)

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// upCluster is a `cnv-node cluster up` supervisor process and its nodes.
type upCluster struct {
	bin, data, token string
	https, rafts     []string
	cmd              *exec.Cmd
	out, errOut      *syncBuffer
	// tls is the CLI's TLS (the "ops" client certificate cluster up made;
	// nil with --insecure).
	tls *tls.Config
}

// freePorts returns a base port with n consecutive free loopback ports.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		base := 20000 + rand.IntN(30000)
		if portsFree(base, n) {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func portsFree(base, n int) bool {
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// startUp runs `cluster up` with extra flags in a temp dir and waits
// until it says the cluster is up. Cleanup stops it (SIGTERM, then
// SIGKILL of the supervisor and of every node by its pid file).
func startUp(t *testing.T, bin, dir string, nodes int, extra ...string) *upCluster {
	t.Helper()
	u := &upCluster{bin: bin, data: filepath.Join(dir, "data"), out: &syncBuffer{}, errOut: &syncBuffer{}}
	base := freePorts(t, 4*nodes) // one block, so the four ranges never overlap
	raft, http, gossip, hot := base, base+nodes, base+2*nodes, base+3*nodes
	for i := 0; i < nodes; i++ {
		u.https = append(u.https, fmt.Sprintf("127.0.0.1:%d", http+i))
		u.rafts = append(u.rafts, fmt.Sprintf("127.0.0.1:%d", raft+i))
	}
	args := append([]string{"cluster", "up", "--nodes", strconv.Itoa(nodes), "--data-dir", u.data, "--log-level", "warn",
		"--raft-port", strconv.Itoa(raft), "--http-port", strconv.Itoa(http), "--gossip-port", strconv.Itoa(gossip), "--hot-port", strconv.Itoa(hot)}, extra...)
	u.cmd = exec.Command(bin, args...)
	u.cmd.Dir = dir
	u.cmd.Stdout, u.cmd.Stderr = u.out, u.errOut
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.stop(t, nodes) })
	testcluster.WaitFor(t, "cluster up", 90*time.Second, func() error {
		if u.cmd.ProcessState != nil || strings.Contains(u.errOut.String(), "error:") {
			return fmt.Errorf("cluster up failed: %s%s", u.errOut.String(), u.nodeLogs(nodes))
		}
		if !strings.Contains(u.out.String(), "is up") {
			return fmt.Errorf("not up yet")
		}
		return nil
	})
	tok, err := os.ReadFile(filepath.Join(u.data, "cluster.token"))
	if err != nil {
		t.Fatal(err)
	}
	u.token = strings.TrimSpace(string(tok))
	if ok, _ := exists(filepath.Join(u.data, "tls", caCertFile)); ok {
		b, err := tlsutil.Load(tlsutil.Files{CA: filepath.Join(u.data, "tls", caCertFile),
			Cert: filepath.Join(u.data, "tls", "client-ops.pem"), Key: filepath.Join(u.data, "tls", "client-ops-key.pem")})
		if err != nil {
			t.Fatal(err)
		}
		u.tls = b.APIClient()
	}
	return u
}

// nodeLogs is the end of every node's log.
func (u *upCluster) nodeLogs(nodes int) string {
	var b strings.Builder
	for i := 1; i <= nodes; i++ {
		log, _ := os.ReadFile(filepath.Join(u.data, fmt.Sprintf("n%d", i), "node.log"))
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		fmt.Fprintf(&b, "\n--- n%d/node.log:\n%s", i, log)
	}
	return b.String()
}

func (u *upCluster) stop(t *testing.T, nodes int) {
	u.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { u.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		u.cmd.Process.Kill()
		<-exited
	}
	for i := 1; i <= nodes; i++ { // a node the supervisor could not stop
		if pid := u.pid(t, fmt.Sprintf("n%d", i)); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// pid reads node id's pid file (0 when there is none).
func (u *upCluster) pid(t *testing.T, id string) int {
	b, err := os.ReadFile(filepath.Join(u.data, id, "node.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (u *upCluster) addrs() string { return strings.Join(u.https, ",") }

// admin returns a client signing with the cluster's admin key.
func (u *upCluster) admin(t *testing.T) *client.Client {
	t.Helper()
	key, err := principal.LoadPrivate(filepath.Join(u.data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(client.Options{Key: key, Timeout: 5 * time.Second, RetryFor: 20 * time.Second, Token: u.token, TLS: u.tls})
	t.Cleanup(cl.Close)
	return cl
}

// leaderID asks the cluster which node leads.
func (u *upCluster) leaderID(t *testing.T, cl *client.Client) string {
	var id string
	testcluster.WaitFor(t, "a leader", 30*time.Second, func() error {
		st, err := cl.Status(context.Background(), u.addrs())
		if err != nil || st.LeaderID == "" {
			return fmt.Errorf("no leader: %v", err)
		}
		id = st.LeaderID
		return nil
	})
	return id
}

// kill -9 the leader of a `cluster up` cluster while a writer invokes
// through every endpoint: the supervisor reports the death and keeps the
// others serving, every acknowledged write is in the ledger exactly once
// (a retry on another endpoint kept its request id), and with
// --restart-dead the node comes back on its data and catches up.
func TestClusterUpSurvivesANodeDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	u := startUp(t, buildBinary(t, dir), dir, 3, "--restart-dead")
	cl := u.admin(t)
	if _, err := cl.Invoke(context.Background(), u.addrs(), invocation.Invocation{Capability: "capability.register", Payload: readCaps(t)}); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, cl, u.addrs(), 3)
	victim := u.leaderID(t, cl)
	oldPid := u.pid(t, victim)
	acked := runWriter(t, cl, u.addrs(), func() { syscall.Kill(oldPid, syscall.SIGKILL) })
	testcluster.WaitFor(t, "the supervisor reports the death", 30*time.Second, func() error {
		if !strings.Contains(u.errOut.String(), victim+" died (killed by signal 9") {
			return fmt.Errorf("stderr: %s", u.errOut.String())
		}
		return nil
	})
	checkOnce(t, cl, u.addrs(), acked)
	testcluster.WaitFor(t, victim+" back", 60*time.Second, func() error {
		if !strings.Contains(u.errOut.String(), victim+" is back and serving") {
			return fmt.Errorf("stderr: %s", u.errOut.String())
		}
		return nil
	})
	if pid := u.pid(t, victim); pid == oldPid || pid == 0 {
		t.Fatalf("%s pid %d, was %d", victim, pid, oldPid)
	}
	caughtUp(t, cl, u)
}

func readCaps(t *testing.T) []byte {
	b, err := os.ReadFile("../../runtime/graph/testdata/caps.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runWriter invokes user.create 40 times through addrs, calling kill
// after the tenth, and returns the request ids the cluster acknowledged.
func runWriter(t *testing.T, cl *client.Client, addrs string, kill func()) []string {
	t.Helper()
	var acked []string
	for i := 0; i < 40; i++ {
		if i == 10 {
			kill()
		}
		id := fmt.Sprintf("w-%d", i)
		inv := invocation.Invocation{Capability: "user.create", RequestID: id, CorrelationID: id, Args: []invocation.Arg{{Name: "name", Value: id}}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		outs, err := cl.Invoke(ctx, addrs, inv)
		cancel()
		if err != nil || outs[0].Decision != "allow" {
			t.Fatalf("write %d during the failure: %v %+v", i, err, outs)
		}
		acked = append(acked, id)
	}
	return acked
}

// checkOnce checks each acknowledged request is one decision in the
// ledger, and that sending it again answers with the recorded outcome.
func checkOnce(t *testing.T, cl *client.Client, addrs string, acked []string) {
	t.Helper()
	for _, id := range acked {
		p, err := cl.LedgerQuery(context.Background(), addrs, url.Values{"correlation_id": {id}, "type": {"PolicyDecision"}}, client.Read{})
		if err != nil || len(p.Events) != 1 {
			t.Fatalf("%s: %d decisions in the ledger (%v)", id, len(p.Events), err)
		}
	}
	inv := invocation.Invocation{Capability: "user.create", RequestID: acked[10], CorrelationID: acked[10], Args: []invocation.Arg{{Name: "name", Value: acked[10]}}}
	outs, err := cl.Invoke(context.Background(), addrs, inv)
	if err != nil || !outs[0].Duplicate {
		t.Fatalf("resent %s: %v %+v", acked[10], err, outs)
	}
}

// caughtUp waits until every node reports the same ledger size.
func caughtUp(t *testing.T, cl *client.Client, u *upCluster) {
	testcluster.WaitFor(t, "every node at the same ledger size", 60*time.Second, func() error {
		var sizes []uint64
		for _, a := range u.https {
			st, err := cl.Status(context.Background(), a)
			if err != nil {
				return err
			}
			sizes = append(sizes, st.LedgerSize)
		}
		for _, s := range sizes {
			if s != sizes[0] {
				return fmt.Errorf("sizes %v", sizes)
			}
		}
		return nil
	})
}

// Without --restart-dead a dead node stays down (the supervisor says how
// to bring it back) until the supervisor gets SIGUSR1.
func TestClusterUpRestartsOnSIGUSR1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	u := startUp(t, buildBinary(t, dir), dir, 3)
	cl := u.admin(t)
	leader := u.leaderID(t, cl)
	victim := "n1"
	if leader == victim {
		victim = "n2"
	}
	syscall.Kill(u.pid(t, victim), syscall.SIGKILL)
	testcluster.WaitFor(t, "the death reported with the way back", 30*time.Second, func() error {
		if !strings.Contains(u.errOut.String(), victim+" died") || !strings.Contains(u.errOut.String(), "kill -USR1") {
			return fmt.Errorf("stderr: %s", u.errOut.String())
		}
		return nil
	})
	if _, err := cl.Invoke(context.Background(), u.addrs(), invocation.Invocation{Capability: "capability.register", Payload: readCaps(t)}); err != nil {
		t.Fatalf("a write with %s dead: %v", victim, err)
	}
	u.cmd.Process.Signal(syscall.SIGUSR1)
	testcluster.WaitFor(t, victim+" back", 60*time.Second, func() error {
		if !strings.Contains(u.errOut.String(), victim+" is back and serving") {
			return fmt.Errorf("stderr: %s", u.errOut.String())
		}
		return nil
	})
	caughtUp(t, cl, u)
}

// The cluster commands' answers on a real cluster: a join refused for
// its token fails at once (denied), removing an unknown node is not
// found, transfer-leader names the new leader, removing the leader
// succeeds.
func TestClusterCLIBehaviour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	u := startUp(t, bin, dir, 3, "--insecure") // what the cluster token guards, without TLS
	cl := u.admin(t)
	env := []string{"--token", u.token}
	wrong := filepath.Join(dir, "wrong.token")
	os.WriteFile(wrong, []byte("not-the-cluster-token-0123\n"), 0o600)
	n4 := &proc{id: "n4", dir: filepath.Join(dir, "n4"), raft: freeAddr(t), http: freeAddr(t)}
	n4.args = []string{"agent", "--node-id", "n4", "--data-dir", n4.dir, "--raft-addr", n4.raft, "--http-addr", n4.http,
		"--admin-key", filepath.Join(u.data, "admin.pub"), "--log-level", "warn", "--cluster-token-file", wrong}
	t.Cleanup(n4.kill)
	n4.start(t, bin)
	testcluster.WaitFor(t, "n4 answers", 30*time.Second, func() error { return cl.Get(context.Background(), n4.http, "/healthz", nil) })
	start := time.Now()
	if _, code := runBin(t, bin, "cluster", "join", "--addr", n4.http, "--token", "not-the-cluster-token-0123", u.https[0]); code != exitDenied {
		t.Fatalf("join with a wrong token: exit %d", code)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("the refused join took %v", took)
	}
	if _, code := runBin(t, bin, append([]string{"cluster", "remove", "--addr", u.addrs(), "nosuch"}, env...)...); code != exitNotFound {
		t.Fatalf("remove nosuch: exit %d", code)
	}
	waitVoters(t, cl, u.addrs(), 3)
	out, code := runBin(t, bin, "cluster", "transfer-leader", "--addr", u.addrs(), "--token", u.token, "--to", "n3")
	if code != 0 || !strings.Contains(out, "to n3") {
		t.Fatalf("transfer-leader --to n3: %d %q", code, out)
	}
	out, code = runBin(t, bin, append([]string{"cluster", "remove", "--addr", u.addrs(), "n3"}, env...)...)
	if code != 0 || !strings.Contains(out, "removed n3") {
		t.Fatalf("remove the leader: %d %q", code, out)
	}
	if l := u.leaderID(t, cl); l == "n3" {
		t.Fatal("n3 still leads")
	}
}

// waitVoters waits until n servers are voters (autopilot promotes a
// joined server once it is stable).
func waitVoters(t *testing.T, cl *client.Client, addrs string, n int) {
	testcluster.WaitFor(t, fmt.Sprintf("%d voters", n), 60*time.Second, func() error {
		ms, err := cl.Members(context.Background(), addrs)
		if err != nil {
			return err
		}
		voters := 0
		for _, m := range ms {
			if m.Raft == "voter" {
				voters++
			}
		}
		if voters < n {
			return fmt.Errorf("%d voters", voters)
		}
		return nil
	})
}

// cluster up is secure without being asked: the API answers only HTTPS
// with the cluster CA's node certificate, the Raft port refuses a plain
// connection, gossip is encrypted with a key only the owner can read,
// and the CLI reaches the cluster through cluster.env alone.
func TestClusterUpIsSecureByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	u := startUp(t, bin, dir, 3)
	if u.tls == nil {
		t.Fatal("cluster up made no CA")
	}
	plain := client.New(client.Options{Timeout: 2 * time.Second})
	defer plain.Close()
	if err := plain.Get(context.Background(), u.https[0], "/v1/status", nil); err == nil {
		t.Fatal("plain HTTP answered")
	}
	conn, err := tls.Dial("tcp", u.https[0], &tls.Config{}) // the system roots, not the cluster CA
	if err == nil {
		conn.Close()
		t.Fatal("the API's certificate verified against the system roots")
	}
	raw, err := net.DialTimeout("tcp", u.rafts[0], 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	raw.Write([]byte{'R', 0, 0, 0, 0, 0, 0, 0, 0})
	if n, err := raw.Read(make([]byte, 64)); err == nil {
		t.Fatalf("the Raft port answered a plain connection with %d bytes", n)
	}
	raw.Close()
	fi, err := os.Stat(filepath.Join(u.data, "gossip.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("gossip.key mode %v", fi.Mode().Perm())
	}
	for i := 1; i <= 3; i++ {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", u.pid(t, fmt.Sprintf("n%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"--gossip-key", "--tls-ca", "--tls-cert"} {
			if !bytes.Contains(cmdline, []byte(flag)) {
				t.Fatalf("n%d runs without %s", i, flag)
			}
		}
	}
	env := filepath.Join(u.data, "cluster.env")
	sh := func(script string) (string, int) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "BIN="+bin, "ENVFILE="+env)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := sh(`. "$ENVFILE" && "$BIN" cluster status`); code != 0 {
		t.Fatalf("status through cluster.env: exit %d: %s", code, out)
	}
	// Without the CA the CLI says what is missing, at once.
	if out, code := sh(`. "$ENVFILE" && unset CNV_CA CNV_CERT CNV_KEY_FILE && "$BIN" cluster status --retry-for 30s`); code != exitDenied || !strings.Contains(out, "CNV_CA") {
		t.Fatalf("status without the CA: exit %d: %s", code, out)
	}
}
