package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// ledgerCLI runs a ledger command against dir and decodes its --json output
// into v (when v is not nil).
func ledgerCLI(t *testing.T, dir string, v any, args ...string) (string, int) {
	t.Helper()
	args = append(append([]string{"ledger"}, args...), "--data-dir", dir, "--json")
	out, errOut, code := cli(t, args...)
	if v != nil && code == 0 {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%v: %q: %v", args, out, err)
		}
	}
	return out + errOut, code
}

type hexProof struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Proof    []string `json:"proof"`
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	FromRoot string   `json:"from_root"`
	ToRoot   string   `json:"to_root"`
}

func unhex(t *testing.T, hs ...string) [][]byte {
	t.Helper()
	out := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := hexDecode(h)
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		out[i] = b
	}
	return out
}

func hexDecode(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	return b, nil
}

// End to end on a temporary data directory: append, status, query, proofs
// checked with transparency-dev's verifier, checkpoints cosigned by two
// node keys, export and import to the same root, replay, and verify
// failing with the bad index after a byte of state.db is flipped.
func TestLedgerCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node1")
	agents := []string{"alice", "bob", "alice", "carol", "bob"}
	for i, a := range agents {
		decision := "allow"
		if i == 3 {
			decision = "deny"
		}
		out, code := ledgerCLI(t, dir, nil, "append", "--type", "PolicyDecision", "--agent", a, "--tenant", "acme",
			"--capability", "user.create", "--decision", decision, "--reason", "r", "--rule", "rule-"+decision,
			"--command", "user.create --name marker-"+strconv.Itoa(i), "--correlation", "batch-1")
		if code != 0 {
			t.Fatalf("append %d: %s", i, out)
		}
	}
	if out, code := ledgerCLI(t, dir, nil, "append", "--type", "SecurityViolation", "--agent", "mallory",
		"--data", `{"violation_type":"forged_chain","severity":"high"}`); code != 0 {
		t.Fatalf("append violation: %s", out)
	}
	if _, code := ledgerCLI(t, dir, nil, "append", "--type", "Nope", "--agent", "x"); code != exitUsage {
		t.Fatalf("unknown type: exit %d", code)
	}

	var st struct {
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	ledgerCLI(t, dir, &st, "status")
	if st.Size != 6 || len(st.Root) != 64 {
		t.Fatalf("status %+v", st)
	}

	var page struct {
		Events    []map[string]any `json:"events"`
		More      bool             `json:"more"`
		NextAfter *uint64          `json:"next_after"`
	}
	ledgerCLI(t, dir, &page, "query", "--agent", "alice", "--limit", "1")
	if len(page.Events) != 1 || !page.More || page.NextAfter == nil || *page.NextAfter != 0 {
		t.Fatalf("page 1: %+v", page)
	}
	page.NextAfter = nil
	ledgerCLI(t, dir, &page, "query", "--agent", "alice", "--after", "0")
	if len(page.Events) != 1 || page.More || page.Events[0]["index"].(float64) != 2 {
		t.Fatalf("page 2: %+v", page)
	}
	ledgerCLI(t, dir, &page, "query", "--decision", "deny", "--correlation", "batch-1")
	if len(page.Events) != 1 || page.Events[0]["actor"] != "carol" {
		t.Fatalf("deny query: %+v", page)
	}

	checkProofCommands(t, dir, st.Root)
	checkCheckpointCommands(t, dir)
	checkExportImport(t, dir, st.Root)
	checkReplayCommand(t, dir)

	if out, code := ledgerCLI(t, dir, nil, "verify"); code != 0 {
		t.Fatalf("verify clean: %s", out)
	}
	flipInFile(t, filepath.Join(dir, "state.db"), []byte("marker-3"))
	out, code := ledgerCLI(t, dir, nil, "verify")
	if code != exitError || !strings.Contains(out, "first bad index 3") {
		t.Fatalf("verify after a flipped byte: exit %d: %s", code, out)
	}
}

func checkProofCommands(t *testing.T, dir, root string) {
	var p hexProof
	ledgerCLI(t, dir, &p, "proof", "--index", "2")
	if p.Index != 2 || p.Size != 6 || p.Root != root {
		t.Fatalf("proof %+v", p)
	}
	h := rfc6962.DefaultHasher
	if err := proof.VerifyInclusion(h, 2, 6, unhex(t, p.LeafHash)[0], unhex(t, p.Proof...), unhex(t, root)[0]); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	var c hexProof
	ledgerCLI(t, dir, &c, "consistency", "--from", "3", "--to", "6")
	if err := proof.VerifyConsistency(h, 3, 6, unhex(t, c.Proof...), unhex(t, c.FromRoot)[0], unhex(t, c.ToRoot)[0]); err != nil || c.ToRoot != root {
		t.Fatalf("consistency proof %+v: %v", c, err)
	}
	if _, code := ledgerCLI(t, dir, nil, "proof", "--index", "9"); code != exitInput {
		t.Fatalf("proof out of range: exit %d", code)
	}
}

func checkCheckpointCommands(t *testing.T, dir string) {
	keys := filepath.Join(t.TempDir(), "keys")
	for _, n := range []string{"n1", "n2"} {
		if _, _, code := cli(t, "keygen", "--out", filepath.Join(keys, n)); code != 0 {
			t.Fatal("keygen")
		}
		if out, code := ledgerCLI(t, dir, nil, "checkpoint", "--key", filepath.Join(keys, n+".key")); code != 0 {
			t.Fatalf("checkpoint %s: %s", n, out)
		}
	}
	var cps []struct {
		Size         uint64   `json:"size"`
		Note         string   `json:"note"`
		VerifierKeys []string `json:"verifier_keys"`
	}
	ledgerCLI(t, dir, &cps, "checkpoints")
	if len(cps) != 1 || cps[0].Size != 6 || len(cps[0].VerifierKeys) != 2 {
		t.Fatalf("checkpoints %+v", cps)
	}
	var vs []note.Verifier
	for _, k := range cps[0].VerifierKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open([]byte(cps[0].Note), note.VerifierList(vs...))
	if err != nil || len(n.Sigs) != 2 || !strings.HasPrefix(n.Text, "cnv\n6\n") {
		t.Fatalf("note: %v %+v", err, n)
	}
}

func checkExportImport(t *testing.T, dir, root string) {
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if out, code := ledgerCLI(t, dir, nil, "export", "--out", file); code != 0 {
		t.Fatalf("export: %s", out)
	}
	data, _ := os.ReadFile(file)
	if n := bytes.Count(data, []byte("\n")); n != 6 {
		t.Fatalf("exported %d lines", n)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	var res struct {
		Imported uint64 `json:"imported"`
		Root     string `json:"root"`
	}
	if out, code := ledgerCLI(t, copyDir, &res, "import", file); code != 0 || res.Imported != 6 || res.Root != root {
		t.Fatalf("import: %s %+v", out, res)
	}
}

func checkReplayCommand(t *testing.T, dir string) {
	pol := filepath.Join(t.TempDir(), "policy.json")
	doc := `{"default":"allow","rules":[{"name":"no-bob","priority":10,"when":[{"type":"capability","pattern":"user.create"},{"type":"tenant","tenant_id":"acme"},{"type":"agent_type","agent_type":"agent"}],"action":{"type":"deny","reason":"frozen"}}]}`
	if err := os.WriteFile(pol, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Size          uint64 `json:"size"`
		NewPolicyHash string `json:"new_policy_hash"`
		Differences   []struct {
			Index uint64 `json:"index"`
			Kind  string `json:"kind"`
		} `json:"differences"`
		ByAgent []struct {
			Key         string `json:"key"`
			Differences uint64 `json:"differences"`
		} `json:"by_agent"`
	}
	out, code := ledgerCLI(t, dir, &rep, "replay", "--policy", pol, "--progress")
	if code != 0 || rep.Size != 6 || len(rep.NewPolicyHash) != 64 {
		t.Fatalf("replay: %s", out)
	}
	// Four allows become denials; the recorded denial (index 3) stays a
	// denial with another reason and rule.
	kinds := map[string]int{}
	for _, d := range rep.Differences {
		kinds[d.Kind]++
	}
	if kinds["allow_to_deny"] != 4 || kinds["reason_changed"] != 1 || len(rep.ByAgent) != 3 {
		t.Fatalf("replay differences %+v by agent %+v", rep.Differences, rep.ByAgent)
	}
	if !strings.Contains(out, "replayed 5 of 6 events") && !strings.Contains(out, "replayed 6 of 6 events") {
		t.Fatalf("no progress output: %s", out)
	}
}

// flipInFile flips one bit in every copy of marker in the file.
func flipInFile(t *testing.T, path string, marker []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; ; {
		j := bytes.Index(data[i:], marker)
		if j < 0 {
			break
		}
		data[i+j+len(marker)-1] ^= 0x01
		n++
		i += j + len(marker)
	}
	if n == 0 {
		t.Fatalf("%q not in %s", marker, path)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
