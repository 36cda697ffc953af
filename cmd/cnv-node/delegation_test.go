package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/principal"
)

// dcli runs one command line in process.
func dcli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runIO(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// delegationFixture writes key pairs for alice, bob and carol and a root
// link alice→bob allowing user.read and user.list, read-only, for an hour.
func delegationFixture(t *testing.T) (dir string, p func(string) string) {
	dir = t.TempDir()
	p = func(name string) string { return filepath.Join(dir, name) }
	for _, n := range []string{"alice", "bob", "carol"} {
		pub, priv, err := principal.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := principal.WriteKeyPair(p(n), pub, priv); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := dcli(t, "delegation", "grant", "--key", p("alice.key"), "--to", p("bob.pub"),
		"--allow", "user.read,user.list", "--max-effect", "read_only", "--ttl", "1h", "--max-uses", "10", "--out", p("root.tok")); code != 0 {
		t.Fatalf("root grant: %d %s", code, errOut)
	}
	return dir, p
}

func TestDelegationGrantInspectVerify(t *testing.T) {
	_, p := delegationFixture(t)
	out, errOut, code := dcli(t, "delegation", "inspect", p("root.tok"), "--json")
	var view struct {
		Hash           string `json:"hash"`
		Issuer         string `json:"issuer"`
		Audience       string `json:"audience"`
		Depth          int    `json:"depth"`
		MaxUses        uint64 `json:"max_uses"`
		SignatureValid bool   `json:"signature_valid"`
		Constraints    struct {
			Allow     []string `json:"allow"`
			MaxEffect string   `json:"max_effect"`
		} `json:"constraints"`
	}
	if err := json.Unmarshal([]byte(out), &view); err != nil || code != 0 {
		t.Fatalf("inspect: %d %q %s %v", code, out, errOut, err)
	}
	alicePub, _ := principal.LoadPublic(p("alice.pub"))
	if view.Issuer != string(principal.IDOf(alicePub)) || !view.SignatureValid || view.Depth != 0 || view.MaxUses != 10 ||
		len(view.Hash) != 64 || strings.Join(view.Constraints.Allow, ",") != "user.list,user.read" || view.Constraints.MaxEffect != "read_only" {
		t.Fatalf("inspect: %+v", view)
	}
	if _, errOut, code := dcli(t, "delegation", "grant", "--key", p("bob.key"), "--to", p("carol.pub"),
		"--parent", p("root.tok"), "--allow", "user.read", "--out", p("child.tok")); code != 0 {
		t.Fatalf("child grant: %d %s", code, errOut)
	}
	chain := p("root.tok") + "," + p("child.tok")
	out, _, code = dcli(t, "delegation", "verify", "--chain", chain, "--invoker", p("carol.pub"), "--capability", "user.read", "--json")
	var res struct {
		Allowed   bool `json:"allowed"`
		Effective struct {
			Depth int `json:"depth"`
		} `json:"effective"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Allowed || res.Effective.Depth != 2 {
		t.Fatalf("verify: %d %q %v", code, out, err)
	}
	if out, _, code := dcli(t, "delegation", "verify", "--chain", chain, "--invoker", p("carol.pub"), "--capability", "user.read"); code != 0 ||
		!strings.HasPrefix(out, "allowed: user.read") {
		t.Fatalf("human verify: %d %q", code, out)
	}
}

func TestDelegationVerifyRefusals(t *testing.T) {
	_, p := delegationFixture(t)
	if _, errOut, code := dcli(t, "delegation", "grant", "--key", p("bob.key"), "--to", p("carol.pub"),
		"--parent", p("root.tok"), "--allow", "user.read", "--out", p("child.tok")); code != 0 {
		t.Fatalf("child grant: %d %s", code, errOut)
	}
	chain := p("root.tok") + "," + p("child.tok")
	late := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name   string
		args   []string
		reason string
	}{
		{"wrong invoker", []string{"--chain", chain, "--invoker", p("bob.pub"), "--capability", "user.read"}, "broken_chain"},
		{"missing link", []string{"--chain", p("child.tok"), "--invoker", p("carol.pub"), "--capability", "user.read"}, "broken_chain"},
		{"not allowed", []string{"--chain", chain, "--invoker", p("carol.pub"), "--capability", "user.list"}, "not_allowed"},
		{"effect too high", []string{"--chain", chain, "--invoker", p("carol.pub"), "--capability", "user.read", "--effect", "mutate_state"}, "effect_too_high"},
		{"expired", []string{"--chain", chain, "--invoker", p("carol.pub"), "--capability", "user.read", "--at", late}, "expired"},
	}
	for _, tc := range cases {
		out, errOut, code := dcli(t, append([]string{"delegation", "verify", "--json"}, tc.args...)...)
		var res struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		}
		_ = json.Unmarshal([]byte(out), &res)
		if code != exitDenied || res.Allowed || res.Reason != tc.reason || !strings.Contains(errOut, tc.reason) {
			t.Errorf("%s: code %d, %+v, stderr %q; want reason %s", tc.name, code, res, errOut, tc.reason)
		}
	}
}

func TestDelegationGrantRefusesWidening(t *testing.T) {
	_, p := delegationFixture(t)
	base := []string{"delegation", "grant", "--key", p("bob.key"), "--to", p("carol.pub"), "--parent", p("root.tok"), "--out", p("w.tok")}
	for field, extra := range map[string][]string{
		"allow":      {"--allow", "user.*"},
		"max_effect": {"--max-effect", "mutate"},
		"not_after":  {"--ttl", "2h"},
		"max_uses":   {"--max-uses", "0"},
	} {
		_, errOut, code := dcli(t, append(append([]string{}, base...), extra...)...)
		if code != exitDenied || !strings.Contains(errOut, "widened ("+field+")") {
			t.Errorf("widening %s: code %d, stderr %q", field, code, errOut)
		}
	}
	if _, err := os.Stat(p("w.tok")); !os.IsNotExist(err) {
		t.Error("a refused grant must not write a token")
	}
	// Only the parent's audience may sub-delegate.
	if _, errOut, code := dcli(t, "delegation", "grant", "--key", p("carol.key"), "--to", p("alice.pub"),
		"--parent", p("root.tok"), "--out", p("x.tok")); code != exitDenied || !strings.Contains(errOut, "broken_chain") {
		t.Errorf("grant by a non-audience: %d %q", code, errOut)
	}
}

func TestDelegationBadInput(t *testing.T) {
	_, p := delegationFixture(t)
	data, _ := os.ReadFile(p("root.tok"))
	lines := strings.Split(string(data), "\n")
	b := []byte(lines[2])
	b[10] ^= 0x01 // flips one base64 character of the body
	lines[2] = string(b)
	if err := os.WriteFile(p("bad.tok"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := dcli(t, "delegation", "inspect", p("bad.tok")); code == 0 {
		t.Error("inspect of a tampered token must fail")
	}
	if _, _, code := dcli(t, "delegation", "verify", "--chain", p("bad.tok"), "--invoker", p("bob.pub"), "--capability", "user.read"); code == 0 {
		t.Error("verify of a tampered token must fail")
	}
	if _, _, code := dcli(t, "delegation", "grant", "--key", p("alice.key"), "--to", p("bob.pub"), "--ttl", "1h", "--out", p("y.tok")); code != exitUsage {
		t.Errorf("a root grant without --allow: %d", code)
	}
	if _, _, code := dcli(t, "delegation", "verify", "--chain", p("root.tok"), "--invoker", p("bob.pub")); code != exitUsage {
		t.Errorf("verify without --capability: %d", code)
	}
}
