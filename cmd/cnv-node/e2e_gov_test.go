package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// governanceCLI drives the governance commands against a running cluster:
// principal register, policy set/show, delegation grant/revoke/show, cert
// verify with the keys from cluster keys.
func governanceCLI(t *testing.T, bin, dir, adminKey string, procs []*proc) {
	t.Helper()
	a, b := procs[0].http, procs[1].http
	bot := filepath.Join(dir, "bot")
	if _, code := runBin(t, bin, "keygen", "--out", bot); code != 0 {
		t.Fatal("keygen bot")
	}
	if out, code := runBin(t, bin, "principal", "register", "--addr", a, "--key", adminKey, "--agent-id", "bot", bot+".pub"); code != 0 {
		t.Fatalf("principal register: %s", out)
	}
	if _, code := runBin(t, bin, "invoke", "--addr", b, "--key", bot+".key", "user", "read"); code != exitDenied {
		t.Fatalf("bot allowed under the admin-only policy (exit %d)", code)
	}
	pol := filepath.Join(dir, "policy.json")
	os.WriteFile(pol, []byte(`{"default":"deny","rules":[
 {"name":"admins","priority":100,"when":[{"type":"admin"}],"action":{"type":"allow"}},
 {"name":"agents-read","priority":10,"when":[{"type":"agent_type","agent_type":"agent"},{"type":"effect_type","effect":"read_only"}],"action":{"type":"allow"}}]}`), 0o600)
	if out, code := runBin(t, bin, "policy", "set", "--addr", b, "--key", adminKey, pol); code != 0 {
		t.Fatalf("policy set: %s", out)
	}
	if out, code := runBin(t, bin, "policy", "show", "--addr", procs[2].http, "--json"); code != 0 || !strings.Contains(out, "agents-read") {
		t.Fatalf("policy show: %s", out)
	}
	if out, code := runBin(t, bin, "invoke", "--addr", b, "--key", bot+".key", "user", "read"); code != 0 {
		t.Fatalf("bot read under the new policy: %s", out)
	}
	// A delegation from the admin lets the bot create users, until revoked.
	tok := filepath.Join(dir, "bot.tok")
	if out, code := runBin(t, bin, "delegation", "grant", "--key", adminKey, "--to", bot+".pub", "--allow", "user.*",
		"--max-effect", "mutate", "--ttl", "1h", "--max-uses", "5", "--out", tok); code != 0 {
		t.Fatalf("delegation grant: %s", out)
	}
	out, code := runBin(t, bin, "invoke", "--addr", a, "--key", bot+".key", "--chain", tok, "--json", "user", "create", "--name", "viabot")
	var o struct {
		UseCounts []struct {
			Link string `json:"link"`
			Used uint64 `json:"used"`
		} `json:"use_counts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || len(o.UseCounts) != 1 || o.UseCounts[0].Used != 1 {
		t.Fatalf("delegated invoke: exit %d %s", code, out)
	}
	link := o.UseCounts[0].Link
	if out, code := runBin(t, bin, "delegation", "revoke", "--addr", b, "--key", adminKey, link, "--reason", "test"); code != 0 {
		t.Fatalf("revoke: %s", out)
	}
	if out, code := runBin(t, bin, "delegation", "show", "--addr", procs[2].http, link, "--json"); code != 0 || !strings.Contains(out, `"revoked": true`) {
		t.Fatalf("delegation show: %s", out)
	}
	if _, code := runBin(t, bin, "invoke", "--addr", a, "--key", bot+".key", "--chain", tok, "user", "create", "--name", "x"); code != exitDenied {
		t.Fatalf("revoked chain: exit %d", code)
	}
	// Certificates verify offline against the published node keys.
	out, code = runBin(t, bin, "cluster", "keys", "--addr", a, "--json")
	var keys []struct {
		NodeID string `json:"node_id"`
		PEM    string `json:"public_key_pem"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &keys) != nil || len(keys) < 3 {
		t.Fatalf("cluster keys: %s", out)
	}
	var trust []string
	for _, k := range keys {
		f := filepath.Join(dir, k.NodeID+".pub")
		os.WriteFile(f, []byte(k.PEM), 0o600)
		trust = append(trust, f)
	}
	out, code = runBin(t, bin, "invoke", "--addr", b, "--key", adminKey, "--json", "user", "create", "--name", "certified")
	cert := filepath.Join(dir, "cert.json")
	os.WriteFile(cert, []byte(out), 0o600)
	if out, code := runBin(t, bin, "cert", "verify", cert, "--trust", strings.Join(trust, ",")); code != 0 {
		t.Fatalf("cert verify: %s", out)
	}
	forged := strings.Replace(out, `"signature": "`, `"signature": "AAAA`, 1)
	os.WriteFile(cert, []byte(forged), 0o600)
	if _, code := runBin(t, bin, "cert", "verify", cert, "--trust", strings.Join(trust, ",")); code != exitDenied {
		t.Fatalf("a tampered certificate: exit %d", code)
	}
	// A field outside the signed bytes is not believed: editing the
	// readable copy makes the certificate invalid, naming the field.
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	doc["certificate"].(map[string]any)["agent_id"] = "mallory"
	renamed, _ := json.Marshal(doc)
	os.WriteFile(cert, renamed, 0o600)
	cmd := exec.Command(bin, "cert", "verify", cert, "--trust", strings.Join(trust, ","))
	msg, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitDenied || !strings.Contains(string(msg), "certificate.agent_id") {
		t.Fatalf("certificate renamed to mallory: %v %s", err, msg)
	}
}
