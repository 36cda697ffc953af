package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
)

// processCluster builds the binary into a temp dir, writes an admin key
// pair there (admin.key, admin.pub) and prepares n nodes with the base
// agent flags; the caller adds its own flags and starts them. Every node
// is killed at cleanup. Skipped with -short.
func processCluster(t *testing.T, n int) (bin, dir, admin string, procs []*proc) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir = t.TempDir()
	bin = buildBinary(t, dir)
	admin = filepath.Join(dir, "admin")
	if _, code := runBin(t, bin, "keygen", "--out", admin); code != 0 {
		t.Fatal("keygen failed")
	}
	procs = make([]*proc, n)
	for i := range procs {
		p := &proc{id: fmt.Sprintf("n%d", i+1), raft: freeAddr(t), http: freeAddr(t)}
		p.dir = filepath.Join(dir, p.id)
		p.args = []string{"agent", "--node-id", p.id, "--data-dir", p.dir, "--raft-addr", p.raft, "--http-addr", p.http,
			"--admin-key", admin + ".pub", "--log-level", "warn"}
		procs[i] = p
		t.Cleanup(p.kill)
	}
	return bin, dir, admin, procs
}

// buildBinary builds cnv-node into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cnv-node")
	out, err := exec.Command("go", "build", "-tags", "cnvtest", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	id, dir, raft, http string
	args                []string
	cmd                 *exec.Cmd
	log                 *os.File
}

func (p *proc) start(t *testing.T, bin string) {
	t.Helper()
	var err error
	p.log, err = os.OpenFile(filepath.Join(p.dir+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
	if p.log != nil {
		p.log.Close()
	}
}

// runBin runs the built binary and returns its stdout and exit code.
func runBin(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Logf("cnv-node %v: exit %d: %s", args, code, errb.String())
	}
	return out.String(), code
}

// TestThreeProcessCluster builds the binary, starts three real processes,
// joins the third with `cluster join`, invokes through every node with
// the CLI, kills the leader with SIGKILL, invokes again, restarts it, and
// checks that every node reports the same ledger size and root.
func TestThreeProcessCluster(t *testing.T) {
	bin, dir, admin, procs := processCluster(t, 3)
	procs[0].args = append(procs[0].args, "--bootstrap")
	procs[1].args = append(procs[1].args, "--join", procs[0].http)
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	ready := func(p *proc) {
		testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
	}
	for _, p := range procs {
		p.start(t, bin)
	}
	ready(procs[0])
	ready(procs[1])
	if out, code := runBin(t, bin, "cluster", "join", "--addr", procs[2].http, procs[0].http); code != 0 {
		t.Fatalf("cluster join: %s", out)
	}
	ready(procs[2])
	key := admin + ".key"
	if _, code := runBin(t, bin, "capability", "register", "--addr", procs[1].http, "--key", key, "../../runtime/graph/testdata/caps.json"); code != 0 {
		t.Fatal("capability register failed")
	}
	invoke := func(p *proc, name string) {
		t.Helper()
		out, code := runBin(t, bin, "invoke", "--addr", p.http, "--key", key, "--json", "user", "create", "--name", name)
		var o struct {
			Decision    string `json:"decision"`
			LedgerIndex uint64 `json:"ledger_index"`
			Signature   []byte `json:"signature"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Decision != "allow" || len(o.Signature) != 64 {
			t.Fatalf("invoke via %s: exit %d: %s", p.id, code, out)
		}
	}
	for i, p := range procs {
		invoke(p, fmt.Sprintf("before-%d", i))
	}
	leader := leaderOf(t, bin, procs[0], procs)
	if leader == nil {
		t.Fatal("no leader")
	}
	leader.kill()
	var alive []*proc
	for _, p := range procs {
		if p != leader {
			alive = append(alive, p)
		}
	}
	testcluster.WaitFor(t, "a new leader", 30*time.Second, func() error {
		if l := leaderOf(t, bin, alive[0], procs); l == nil || l == leader {
			return fmt.Errorf("no new leader")
		}
		return nil
	})
	for i, p := range alive {
		invoke(p, fmt.Sprintf("after-%d", i))
	}
	leader.start(t, bin)
	ready(leader)
	invoke(leader, "restarted")
	remoteReads(t, bin, procs)
	governanceCLI(t, bin, dir, key, procs)
	out, code := runBin(t, bin, "bench", "--addr", procs[0].http+","+procs[1].http+","+procs[2].http, "--key", key,
		"--clients", "4", "--batch", "8", "--duration", "2s", "--json")
	var rep struct {
		Throughput float64 `json:"throughput"`
		P50        float64 `json:"p50_ms"`
		P99        float64 `json:"p99_ms"`
		P999       float64 `json:"p999_ms"`
		Errors     int64   `json:"errors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Throughput <= 0 || rep.Errors != 0 || rep.P99 < rep.P50 {
		t.Fatalf("bench: exit %d: %s", code, out)
	}
	testcluster.WaitFor(t, "same ledger on every node", 30*time.Second, func() error {
		var first string
		for _, p := range procs {
			out, code := runBin(t, bin, "cluster", "status", "--addr", p.http, "--json")
			var st struct {
				LedgerSize uint64 `json:"ledger_size"`
				LedgerRoot string `json:"ledger_root"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
				return fmt.Errorf("%s status failed", p.id)
			}
			s := fmt.Sprintf("%d/%s", st.LedgerSize, st.LedgerRoot)
			if first == "" {
				first = s
			} else if s != first {
				return fmt.Errorf("%s at %s, n1 at %s", p.id, s, first)
			}
		}
		return nil
	})
}

// remoteReads runs the offline ledger and graph commands against nodes.
func remoteReads(t *testing.T, bin string, procs []*proc) {
	t.Helper()
	out, code := runBin(t, bin, "ledger", "verify", "--addr", procs[2].http, "--json")
	if code != 0 || !strings.Contains(out, `"ok": true`) {
		t.Fatalf("ledger verify --addr: %d %s", code, out)
	}
	out, code = runBin(t, bin, "ledger", "query", "--addr", procs[1].http, "--correlation", "nobody", "--json")
	if code != 0 || !strings.Contains(out, `"events"`) {
		t.Fatalf("ledger query --addr: %d %s", code, out)
	}
	out, code = runBin(t, bin, "ledger", "proof", "--addr", procs[2].http, "--index", "1", "--json")
	if code != 0 || !strings.Contains(out, `"root"`) {
		t.Fatalf("ledger proof --addr: %d %s", code, out)
	}
	out, code = runBin(t, bin, "ledger", "consistency", "--addr", procs[1].http, "--from", "2", "--json")
	if code != 0 || !strings.Contains(out, `"to_root"`) {
		t.Fatalf("ledger consistency --addr: %d %s", code, out)
	}
	out, code = runBin(t, bin, "ledger", "export", "--addr", procs[0].http, "--from", "0", "--to", "3")
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("ledger export --addr: %d %q", code, out)
	}
	out, code = runBin(t, bin, "graph", "reachable", "user.create", "user.read", "--addr", procs[0].http, "--json")
	if code != 0 || !strings.Contains(out, `"reachable": true`) || !strings.Contains(out, `"index"`) {
		t.Fatalf("graph reachable --addr: %d %s", code, out)
	}
}

// leaderOf asks p for the leader and returns its process.
func leaderOf(t *testing.T, bin string, p *proc, procs []*proc) *proc {
	out, code := runBin(t, bin, "cluster", "members", "--addr", p.http, "--json")
	if code != 0 {
		return nil
	}
	var ms []struct {
		NodeID string `json:"node_id"`
		Leader bool   `json:"leader"`
	}
	json.Unmarshal([]byte(out), &ms)
	for _, m := range ms {
		for _, q := range procs {
			if m.Leader && q.id == m.NodeID {
				return q
			}
		}
	}
	return nil
}
