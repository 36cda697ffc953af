package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/wire"
)

// cli runs the CLI against a `cluster up` cluster as its operator: the
// "ops" client certificate cluster up made.
func (u *upCluster) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	tlsDir := filepath.Join(u.data, "tls")
	args = append(args, "--ca", filepath.Join(tlsDir, caCertFile), "--cert", filepath.Join(tlsDir, "client-ops.pem"),
		"--key-file", filepath.Join(tlsDir, "client-ops-key.pem"))
	return runBinAll(t, u.bin, args...)
}

func (u *upCluster) httpOf(id string) string {
	i, _ := strconv.Atoi(strings.TrimPrefix(id, "n"))
	return u.https[i-1]
}

// memberState is "raft/gossip" of id in addr's `cluster members`
// ("absent" when it is not listed).
func memberState(t *testing.T, cl *client.Client, addr, id string) string {
	t.Helper()
	ms, err := cl.Members(context.Background(), addr)
	if err != nil {
		return "error: " + err.Error()
	}
	for _, m := range ms {
		if m.NodeID == id {
			return m.Raft + "/" + orDefault(m.Gossip, "-")
		}
	}
	return "absent"
}

// autopilotRefusals reads cnv_autopilot_refusals_total{refusal=kind} from
// addr's /metrics (-1 when there is no such metric).
func autopilotRefusals(cl *client.Client, addr, kind string) int {
	var raw client.Raw
	if err := cl.Get(context.Background(), addr, "/metrics", &raw); err != nil {
		return -1
	}
	prefix := `cnv_autopilot_refusals_total{refusal="` + kind + `"} `
	for _, line := range strings.Split(string(raw.Body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(n)
		}
	}
	return -1
}

// membershipHistory is id's MembershipChanged events, oldest first.
func membershipHistory(t *testing.T, cl *client.Client, addr, id string) []wire.Event {
	t.Helper()
	p, err := cl.LedgerQuery(context.Background(), addr, url.Values{"type": {"MembershipChanged"}, "actor": {id}}, client.Read{})
	if err != nil {
		t.Fatalf("ledger query: %v", err)
	}
	return p.Events
}

func changesOf(evs []wire.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%v by %v", e.Data["change"], e.Data["by"]))
	}
	return out
}

// A server removed with `cluster remove` stays out while it keeps running
// and gossiping: the leader's autopilot refuses it round after round (at
// least three, a second apart) and never adds it back; the removed node's
// explicit `cluster join` readmits it, autopilot promotes it again, and
// the ledger holds every join, promotion and removal with who caused it.
// (Before tombstones autopilot re-added it within seconds.)
func TestRemovalSticksAgainstAutopilot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	u := startUp(t, buildBinary(t, dir), dir, 3)
	cl := u.admin(t)
	waitVoters(t, cl, u.addrs(), 3)
	leader := u.leaderID(t, cl)
	victim := "n3"
	if leader == victim {
		victim = "n2"
	}
	if out, errOut, code := u.cli(t, "cluster", "remove", "--addr", u.addrs(), victim); code != 0 {
		t.Fatalf("cluster remove %s: exit %d: %s%s", victim, code, out, errOut)
	}
	leaderAddr := u.httpOf(leader)
	testcluster.WaitFor(t, victim+" removed and still gossiping", 30*time.Second, func() error {
		if st := memberState(t, cl, leaderAddr, victim); st != "removed/alive" {
			return fmt.Errorf("%s is %s", victim, st)
		}
		return nil
	})
	base := max(autopilotRefusals(cl, leaderAddr, "removed"), 0)
	testcluster.WaitFor(t, "three autopilot rounds refusing "+victim, 30*time.Second, func() error {
		if st := memberState(t, cl, leaderAddr, victim); strings.HasPrefix(st, "voter/") || strings.HasPrefix(st, "nonvoter/") {
			t.Fatalf("autopilot added the removed %s back: %s", victim, st)
		}
		if n := autopilotRefusals(cl, leaderAddr, "removed"); n < base+3 {
			return fmt.Errorf("%d refusals since the removal", n-base)
		}
		return nil
	})
	if err := syscall.Kill(u.pid(t, victim), 0); err != nil {
		t.Fatalf("%s stopped running (%v): the test needs it alive and gossiping", victim, err)
	}
	log, _ := os.ReadFile(filepath.Join(u.data, leader, "node.log"))
	if !strings.Contains(string(log), "autopilot: refusing a server") || !strings.Contains(string(log), "join it explicitly") {
		t.Fatalf("the leader's log does not say why %s stays out:\n%s", victim, log)
	}

	if out, errOut, code := u.cli(t, "cluster", "join", "--addr", u.httpOf(victim), leaderAddr); code != 0 {
		t.Fatalf("the explicit join: exit %d: %s%s", code, out, errOut)
	}
	testcluster.WaitFor(t, victim+" a voter again", 60*time.Second, func() error {
		if st := memberState(t, cl, leaderAddr, victim); st != "voter/alive" {
			return fmt.Errorf("%s is %s", victim, st)
		}
		return nil
	})

	evs := membershipHistory(t, cl, u.addrs(), victim)
	node := "node:" + victim
	want := []string{"joined by " + node, "promoted by autopilot", "removed by client:ops", "joined by " + node, "promoted by autopilot"}
	if got := changesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("%s's membership in the ledger: %q, want %q", victim, got, want)
	}
	cause := func(i int) string { return fmt.Sprint(evs[i].Data["cause"]) }
	for i, w := range map[int][]string{
		0: {"join request from 127.0.0.1:", "node certificate " + victim},
		1: {"autopilot: caught up"},
		2: {"cluster remove from 127.0.0.1:", "client certificate ops"},
		3: {"join request from 127.0.0.1:", "node certificate " + victim},
	} {
		for _, s := range w {
			if !strings.Contains(cause(i), s) {
				t.Errorf("event %d (%s) cause %q does not say %q", i, want[i], cause(i), s)
			}
		}
	}
	if r, _ := evs[3].Data["readmitted"].(float64); uint64(r) != evs[2].RaftIndex {
		t.Errorf("the readmitting join names removal %v, the removal is at raft index %d", evs[3].Data["readmitted"], evs[2].RaftIndex)
	}
}

// A second server calling itself n2 — another data dir, so another key,
// and another address — is refused, naming the member's address and key
// and its own (exit 4), whether it joins with `cluster join` or with
// `agent --join`; the two-node cluster keeps its n2 and its quorum.
// (Before, the newcomer replaced n2 and the cluster lost its quorum.)
func TestDuplicateNodeIDRefused(t *testing.T) {
	bin, dir, _, procs := processCluster(t, 2)
	token := filepath.Join(dir, "token")
	const tok = "a-cluster-token-of-some-length"
	if err := os.WriteFile(token, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	procs[0].args = append(procs[0].args, "--bootstrap", "--cluster-token-file", token)
	procs[1].args = append(procs[1].args, "--join", procs[0].http, "--cluster-token-file", token)
	startReady(t, bin, procs...)
	cl := client.New(client.Options{Timeout: 5 * time.Second, Token: tok})
	defer cl.Close()
	testcluster.WaitFor(t, "n2 a voter", 30*time.Second, func() error {
		if st := memberState(t, cl, procs[0].http, "n2"); st != "voter/-" {
			return fmt.Errorf("n2 is %s", st)
		}
		return nil
	})
	st, err := cl.Status(context.Background(), procs[1].http)
	if err != nil {
		t.Fatal(err)
	}
	n2Key := st.KeyID

	rogue := &proc{id: "n2", raft: freeAddr(t), http: freeAddr(t), dir: filepath.Join(dir, "rogue")}
	rogue.args = []string{"agent", "--node-id", "n2", "--data-dir", rogue.dir, "--raft-addr", rogue.raft, "--http-addr", rogue.http,
		"--log-level", "warn", "--cluster-token-file", token}
	t.Cleanup(rogue.kill)
	rogue.start(t, bin)
	testcluster.WaitFor(t, "the second n2 answers", 30*time.Second, func() error { return cl.Get(context.Background(), rogue.http, "/healthz", nil) })
	rst, err := cl.Status(context.Background(), rogue.http)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBinAll(t, bin, "cluster", "join", "--addr", rogue.http, "--token", tok, procs[0].http)
	if code != exitInput {
		t.Fatalf("a second n2 joining: exit %d, want %d: %s%s", code, exitInput, out, errOut)
	}
	for _, s := range []string{procs[1].raft, n2Key, rogue.raft, rst.KeyID} {
		if !strings.Contains(errOut, s) {
			t.Errorf("the refusal does not name %s: %s", s, errOut)
		}
	}
	rogue.kill()

	// The same newcomer started with --join stops with the same refusal.
	rogue2 := &proc{id: "n2", raft: freeAddr(t), http: freeAddr(t), dir: filepath.Join(dir, "rogue2")}
	rogue2.args = []string{"agent", "--node-id", "n2", "--data-dir", rogue2.dir, "--raft-addr", rogue2.raft, "--http-addr", rogue2.http,
		"--log-level", "warn", "--cluster-token-file", token, "--join", procs[0].http}
	t.Cleanup(rogue2.kill)
	rogue2.start(t, bin)
	exited := make(chan error, 1)
	go func() { exited <- rogue2.cmd.Wait() }()
	select {
	case err := <-exited:
		ee, ok := err.(interface{ ExitCode() int })
		if !ok || ee.ExitCode() != exitInput {
			t.Fatalf("agent --join as a second n2: %v, want exit %d", err, exitInput)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("agent --join as a second n2 is still running: it was added")
	}
	log, _ := os.ReadFile(rogue2.dir + ".log")
	if !strings.Contains(string(log), procs[1].raft) || !strings.Contains(string(log), rogue2.raft) {
		t.Errorf("agent --join's refusal does not name both addresses:\n%s", log)
	}

	if st := memberState(t, cl, procs[0].http, "n2"); st != "voter/-" {
		t.Fatalf("n2 after the refusals: %s", st)
	}
	ms, err := cl.Members(context.Background(), procs[0].http)
	if err != nil || len(ms) != 2 || ms[1].RaftAddr != procs[1].raft && ms[0].RaftAddr != procs[1].raft {
		t.Fatalf("members after the refusals: %+v %v", ms, err)
	}
	key := filepath.Join(dir, "admin.key")
	for _, p := range procs {
		if out, code := runBin(t, bin, "invoke", "--addr", p.http, "--key", key, "ledger.checkpoint"); code != 0 {
			t.Fatalf("an invocation through %s after the refusals (no quorum?): %s", p.id, out)
		}
	}
}

// A server restarted on its data dir at another Raft address is the same
// node (same id and key) but unreachable: it logs what to run, and the
// members list keeps the old address, until `cluster move-member` moves
// it; then it catches up and serves, and the ledger records the move.
func TestMoveMember(t *testing.T) {
	bin, dir, admin, procs := processCluster(t, 3)
	token := filepath.Join(dir, "token")
	const tok = "a-cluster-token-of-some-length"
	if err := os.WriteFile(token, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs {
		p.args = append(p.args, "--cluster-token-file", token)
		if i == 0 {
			p.args = append(p.args, "--bootstrap")
		} else {
			p.args = append(p.args, "--join", procs[0].http)
		}
	}
	startReady(t, bin, procs...)
	cl := client.New(client.Options{Timeout: 5 * time.Second, Token: tok})
	defer cl.Close()
	n3 := procs[2]
	oldRaft := n3.raft
	n3.kill()
	n3.raft = freeAddr(t)
	for i, a := range n3.args {
		if a == oldRaft {
			n3.args[i] = n3.raft
		}
	}
	n3.args = slices.DeleteFunc(n3.args, func(a string) bool { return a == "--join" || a == procs[0].http })
	n3.start(t, bin)
	testcluster.WaitFor(t, "n3 says how to move it", 30*time.Second, func() error {
		log, _ := os.ReadFile(n3.dir + ".log")
		if !strings.Contains(string(log), "cnv-node cluster move-member n3 --raft-addr "+n3.raft) {
			return fmt.Errorf("n3's log: %s", log)
		}
		return nil
	})
	if err := cl.Get(context.Background(), n3.http, "/readyz", nil); err == nil {
		t.Fatal("n3 is ready at an address the cluster does not know")
	}
	if out, errOut, code := runBinAll(t, bin, "cluster", "move-member", "--addr", procs[0].http, "--token", tok, "n3", "--raft-addr", n3.raft); code != 0 ||
		!strings.Contains(out, "moved n3 to "+n3.raft) {
		t.Fatalf("cluster move-member: exit %d: %s%s", code, out, errOut)
	}
	testcluster.WaitFor(t, "n3 ready at its new address", 30*time.Second, func() error {
		return cl.Get(context.Background(), n3.http, "/readyz", nil)
	})
	ms, err := cl.Members(context.Background(), procs[0].http)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.NodeID == "n3" && (m.RaftAddr != n3.raft || m.Raft != "voter") {
			t.Fatalf("n3 after the move: %+v", m)
		}
	}
	if out, code := runBin(t, bin, "invoke", "--addr", n3.http, "--key", admin+".key", "ledger.checkpoint"); code != 0 {
		t.Fatalf("invoke through the moved n3: %s", out)
	}
	evs := membershipHistory(t, cl, procs[0].http, "n3")
	last := evs[len(evs)-1]
	if last.Data["change"] != "moved" || last.Data["from_raft_addr"] != oldRaft || last.Data["raft_addr"] != n3.raft || last.Data["by"] != "token" ||
		!strings.Contains(fmt.Sprint(last.Data["cause"]), "cluster move-member from 127.0.0.1:") {
		t.Fatalf("the move in the ledger: %+v", last.Data)
	}
}
