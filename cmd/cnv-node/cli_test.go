package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs one command line in process and returns stdout, stderr and the
// exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runIO(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCapabilityIDCommand(t *testing.T) {
	out, _, code := cli(t, "capability", "id", "user.create")
	if code != 0 || strings.TrimSpace(out) != "cap_ccf261c62e8553ce" {
		t.Fatalf("%q %d", out, code)
	}
	out, _, _ = cli(t, "capability", "id", "services.restart@2.0.0", "--json")
	var res map[string]string
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["id"] != "cap_1c60d1cdfccf9b9b_2_0_0" {
		t.Fatalf("%q %v", out, err)
	}
	if _, errOut, code := cli(t, "capability", "id", "user"); code != exitUsage || !strings.Contains(errOut, "noun and a verb") {
		t.Fatalf("bad path: %d %q", code, errOut)
	}
}

func TestKeygenCommand(t *testing.T) {
	base := filepath.Join(t.TempDir(), "keys", "alice")
	out, _, code := cli(t, "keygen", "--out", base, "--json")
	if code != 0 {
		t.Fatal(code)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(out), &res); err != nil || !strings.HasPrefix(res["key_id"], "k_") {
		t.Fatalf("%q", out)
	}
	for _, f := range []string{base + ".key", base + ".pub"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if _, _, code := cli(t, "keygen", "--out", base); code == 0 {
		t.Error("overwrote an existing key")
	}
}

func TestPolicyCheckCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	doc := `{"default":"deny","rules":[
	 {"name":"agents-users","priority":10,"when":[{"type":"agent_type","agent_type":"agent"},{"type":"capability","pattern":"user.*"}],"action":{"type":"allow"}},
	 {"name":"no-create-acme","priority":5,"when":[{"type":"tenant","tenant_id":"acme"},{"type":"capability","pattern":"user.create"}],"action":{"type":"deny","reason":"acme may not create users"}}]}`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := cli(t, "policy", "check", "--policy", file, "--capability", "user.create", "--agent-type", "agent", "--tenant", "acme", "--json")
	var res struct {
		Decision       string   `json:"decision"`
		Reason         string   `json:"reason"`
		EvaluatedRules []string `json:"evaluated_rules"`
		MatchedRule    string   `json:"matched_rule"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if code != exitDenied || res.Decision != "deny" || res.MatchedRule != "no-create-acme" || len(res.EvaluatedRules) != 2 {
		t.Fatalf("code %d %+v", code, res)
	}
	out, _, code = cli(t, "policy", "check", "--policy", file, "--capability", "user.read", "--agent-type", "agent", "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "matched:   agents-users") {
		t.Fatalf("%d %q", code, out)
	}
	if _, errOut, code := cli(t, "policy", "check", "--policy", file, "--capability", "user.read", "--agent-type", "robot"); code != exitUsage || !strings.Contains(errOut, "robot") {
		t.Fatalf("bad agent type: %d %q", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"rules":[{"name":"x","action":{"type":"deny"}}]}`), 0o644)
	if _, errOut, code := cli(t, "policy", "check", "--policy", bad, "--capability", "user.read"); code != exitInput || !strings.Contains(errOut, "reason") {
		t.Fatalf("invalid policy: %d %q", code, errOut)
	}
}
