package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A replay where most differences are rule renames leads with the few
// decision changes; the renames are counted, listed only on request, and
// both are in the JSON.
func TestReplayLeadsWithDecisionChanges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	appendDecision := func(agent, capPath string) {
		if out, code := ledgerCLI(t, dir, nil, "append", "--type", "PolicyDecision", "--agent", agent,
			"--capability", capPath, "--decision", "allow", "--rule", "old-allow"); code != 0 {
			t.Fatalf("append: %s", out)
		}
	}
	for i := 0; i < 27; i++ {
		appendDecision(fmt.Sprintf("agent-%d", i%3), "user.read")
	}
	for i := 0; i < 3; i++ {
		appendDecision("bob", "user.delete")
	}
	pol := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(pol, []byte(`{"default":"deny","rules":[
	 {"name":"new-allow","priority":10,"when":[{"type":"capability","pattern":"user.read"}],"action":{"type":"allow"}},
	 {"name":"no-delete","priority":20,"when":[{"type":"capability","pattern":"user.delete"}],"action":{"type":"deny","reason":"deletes are frozen"}}]}`), 0o600)

	out, _, code := cli(t, "ledger", "replay", "--data-dir", dir, "--policy", pol)
	dc, rc := strings.Index(out, "decision changes: 3 (allow→deny 3)"), strings.Index(out, "rule-only changes (same decision, another rule or reason): 27")
	if code != 0 || dc < 0 || rc < dc || !strings.Contains(out, "user.delete              3") || !strings.Contains(out, "bob ") {
		t.Fatalf("replay: %d\n%s", code, out)
	}
	if strings.Contains(out, "user.read agent-") || !strings.Contains(out, "--rule-changes lists them") {
		t.Fatalf("rule-only changes listed without --rule-changes:\n%s", out)
	}
	out, _, _ = cli(t, "ledger", "replay", "--data-dir", dir, "--policy", pol, "--rule-changes")
	if strings.Count(out, "user.read agent-") != 27 {
		t.Fatalf("--rule-changes:\n%s", out)
	}
	var rep struct {
		Differences     []any `json:"differences"`
		DecisionChanges struct {
			Count        int `json:"count"`
			ByCapability []struct {
				Key   string `json:"key"`
				Count int    `json:"count"`
			} `json:"by_capability"`
			List []struct {
				Kind string `json:"kind"`
			} `json:"list"`
		} `json:"decision_changes"`
		RuleChanges struct {
			Count int   `json:"count"`
			List  []any `json:"list"`
		} `json:"rule_changes"`
	}
	ledgerCLI(t, dir, &rep, "replay", "--policy", pol)
	d := rep.DecisionChanges
	if d.Count != 3 || len(d.List) != 3 || d.List[0].Kind != "allow_to_deny" || d.ByCapability[0].Key != "user.delete" ||
		rep.RuleChanges.Count != 27 || len(rep.RuleChanges.List) != 27 || len(rep.Differences) != 30 {
		t.Fatalf("json: %+v", rep)
	}
}
