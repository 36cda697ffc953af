package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
)

// runBinAll runs the built binary and returns its stdout, stderr and exit
// code.
func runBinAll(t *testing.T, bin string, args ...string) (string, string, int) {
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
	return out.String(), errb.String(), code
}

// TestSnapshotProcesses: a two-process cluster with a token, governance
// state set through the CLI; `snapshot save` through a dead endpoint and
// a live one (progress on stderr; --json prints one document); `snapshot
// inspect` verifies it and refuses a flipped byte and a truncated copy
// naming what is wrong; `snapshot restore` seeds a new data dir; a node
// started on it with --bootstrap and one joining it serve the same ledger
// prefix, policy and use counts while the old cluster keeps running.
func TestSnapshotProcesses(t *testing.T) {
	bin, dir, admin, procs := processCluster(t, 4)
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("snapshot-process-test-token\n"), 0o600)
	for _, p := range procs {
		p.args = append(p.args, "--cluster-token-file", token)
	}
	procs[0].args = append(procs[0].args, "--bootstrap")
	procs[1].args = append(procs[1].args, "--join", procs[0].http)
	startReady(t, bin, procs[:2]...)
	key := admin + ".key"
	link := snapshotGovernance(t, bin, dir, key, procs[0].http)
	snap := filepath.Join(dir, "cluster.snap")
	meta := saveViaCLI(t, bin, snap, freeAddr(t)+","+procs[1].http)
	inspectViaCLI(t, bin, snap, procs[0].dir, procs[1].dir)
	tamperViaCLI(t, bin, dir, snap)
	restoreViaCLI(t, bin, snap, procs[2])
	procs[2].args = append(procs[2].args, "--bootstrap")
	procs[3].args = append(procs[3].args, "--join", procs[2].http)
	startReady(t, bin, procs[2:]...)
	checkRestoredViaCLI(t, bin, key, procs[3].http, meta, link)
	if _, stderr, code := runBinAll(t, bin, "snapshot", "restore", snap, "--data-dir", procs[2].dir); code != exitInput ||
		!strings.Contains(stderr, "already holds a node") {
		t.Fatalf("restore into a node's dir: exit %d: %s", code, stderr)
	}
}

func startReady(t *testing.T, bin string, ps ...*proc) {
	t.Helper()
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	for _, p := range ps {
		p.start(t, bin)
		testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
	}
}

// snapshotGovernance registers capabilities and a bot, sets a policy and
// charges a delegation link once; it returns the link's hash.
func snapshotGovernance(t *testing.T, bin, dir, key, addr string) string {
	t.Helper()
	must := func(args ...string) string {
		t.Helper()
		out, stderr, code := runBinAll(t, bin, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s %s", args, code, out, stderr)
		}
		return out
	}
	bot := filepath.Join(dir, "bot")
	must("keygen", "--out", bot)
	must("capability", "register", "--addr", addr, "--key", key, "../../runtime/graph/testdata/caps.json")
	must("principal", "register", "--addr", addr, "--key", key, "--agent-id", "bot", bot+".pub")
	must("policy", "set", "--addr", addr, "--key", key, "../../docs/examples/policy.json")
	tok := filepath.Join(dir, "bot.tok")
	must("delegation", "grant", "--key", key, "--to", bot+".pub", "--allow", "user.*", "--max-effect", "mutate", "--ttl", "1h",
		"--max-uses", "5", "--out", tok)
	out := must("invoke", "--addr", addr, "--key", bot+".key", "--chain", tok, "--json", "user", "create", "--name", "viabot")
	var o struct {
		UseCounts []struct {
			Link string `json:"link"`
		} `json:"use_counts"`
	}
	if json.Unmarshal([]byte(out), &o) != nil || len(o.UseCounts) != 1 {
		t.Fatalf("delegated invoke: %s", out)
	}
	for i := 0; i < 5; i++ {
		must("invoke", "--addr", addr, "--key", key, "user", "create", "--name", "u")
	}
	return o.UseCounts[0].Link
}

type savedMeta struct {
	Bytes int64  `json:"bytes"`
	Node  string `json:"served_by"`
	Meta  struct {
		RaftIndex  uint64 `json:"raft_index"`
		LedgerSize uint64 `json:"ledger_size"`
		LedgerRoot string `json:"ledger_root"`
		NodeID     string `json:"node_id"`
	} `json:"meta"`
}

func saveViaCLI(t *testing.T, bin, snap, addrs string) savedMeta {
	t.Helper()
	tok := "--token=snapshot-process-test-token"
	out, stderr, code := runBinAll(t, bin, "snapshot", "save", snap+".human", "--addr", addrs, tok, "--progress-every", "1ms")
	if code != 0 || !strings.Contains(out, "saved "+snap+".human") || !strings.Contains(stderr, "snapshot: received") {
		t.Fatalf("save: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := runBinAll(t, bin, "snapshot", "save", snap, "--addr", addrs); code != exitDenied {
		t.Fatalf("save without the token: exit %d %s", code, stderr)
	}
	out, stderr, code = runBinAll(t, bin, "snapshot", "save", snap, "--addr", addrs, tok, "--json", "--progress-every", "1ms")
	var m savedMeta
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m.Meta.LedgerSize == 0 || strings.Contains(stderr, "snapshot:") {
		t.Fatalf("save --json: exit %d\n%s\n%s", code, out, stderr)
	}
	if fi, err := os.Stat(snap); err != nil || fi.Size() != m.Bytes {
		t.Fatalf("%s: %v, want %d bytes", snap, err, m.Bytes)
	}
	return m
}

func inspectViaCLI(t *testing.T, bin, snap string, nodeDirs ...string) {
	t.Helper()
	var trust []string
	for _, d := range nodeDirs {
		trust = append(trust, filepath.Join(d, "node.pub"))
	}
	out, _, code := runBinAll(t, bin, "snapshot", "inspect", snap, "--trust", strings.Join(trust, ","))
	if code != 0 || !strings.Contains(out, "(trusted)") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	out, _, code = runBinAll(t, bin, "snapshot", "inspect", snap, "--json")
	var rep struct {
		OK     bool `json:"ok"`
		Ledger struct {
			Verified bool `json:"verified"`
		} `json:"ledger"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || !rep.Ledger.Verified {
		t.Fatalf("inspect --json: exit %d\n%s", code, out)
	}
}

func tamperViaCLI(t *testing.T, bin, dir, snap string) {
	t.Helper()
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(b)
	flipped[len(b)/2] ^= 0xff
	short := b[:len(b)-1000]
	for _, tc := range []struct {
		name string
		data []byte
		code int
		want string
	}{
		{"flipped", flipped, exitInput, "checksum mismatch in the state section"},
		{"short", short, exitInput, "truncated at byte " + strconv.Itoa(len(short))},
		{"foreign", []byte("not a snapshot at all"), exitInput, "bad magic"},
	} {
		path := filepath.Join(dir, tc.name+".snap")
		os.WriteFile(path, tc.data, 0o600)
		out, stderr, code := runBinAll(t, bin, "snapshot", "inspect", path, "--json")
		if code != tc.code || !strings.Contains(stderr, tc.want) || !strings.Contains(out, `"ok": false`) {
			t.Errorf("%s: exit %d, want %d naming %q\n%s\n%s", tc.name, code, tc.code, tc.want, out, stderr)
		}
	}
}

func restoreViaCLI(t *testing.T, bin, snap string, p *proc) {
	t.Helper()
	out, stderr, code := runBinAll(t, bin, "snapshot", "restore", snap, "--data-dir", p.dir, "--node-id", p.id, "--raft-addr", p.raft)
	if code != 0 || !strings.Contains(out, "--bootstrap") || !strings.Contains(out, "node records removed: n1, n2") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, out, stderr)
	}
	// Without --bootstrap the node refuses to start on it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noBoot := exec.CommandContext(ctx, bin, p.args...)
	if out, err := noBoot.CombinedOutput(); err == nil || !strings.Contains(string(out), "start this node with --bootstrap") {
		t.Fatalf("start without --bootstrap: %v\n%s", err, out)
	}
}

func checkRestoredViaCLI(t *testing.T, bin, key, addr string, m savedMeta, link string) {
	t.Helper()
	out, stderr, code := runBinAll(t, bin, "ledger", "consistency", "--addr", addr, "--from", strconv.FormatUint(m.Meta.LedgerSize, 10), "--json")
	var cp struct {
		FromRoot string `json:"from_root"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &cp) != nil || cp.FromRoot != m.Meta.LedgerRoot {
		t.Fatalf("restored ledger at size %d: exit %d %s %s, want root %s", m.Meta.LedgerSize, code, out, stderr, m.Meta.LedgerRoot)
	}
	out, _, code = runBinAll(t, bin, "delegation", "show", "--addr", addr, link, "--json")
	if code != 0 || !strings.Contains(out, `"uses": 1`) {
		t.Fatalf("restored link: exit %d %s", code, out)
	}
	out, _, code = runBinAll(t, bin, "policy", "show", "--addr", addr, "--json")
	if code != 0 || !strings.Contains(out, "quickstart-1") {
		t.Fatalf("restored policy: exit %d %s", code, out)
	}
	if _, stderr, code := runBinAll(t, bin, "invoke", "--addr", addr, "--key", key, "user", "create", "--name", "after-restore"); code != 0 {
		t.Fatalf("invoke on the restored cluster: exit %d %s", code, stderr)
	}
}
