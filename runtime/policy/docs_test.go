package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

// jsonBlocks returns the ```json blocks of a Markdown document.
func jsonBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```json\n")[1:] {
		out = append(out, part[:strings.Index(part, "```")])
	}
	return out
}

// Every policy document in docs/POLICY.md parses, and the example's
// decisions are the ones its table gives.
func TestPolicyDocExamples(t *testing.T) {
	md, err := os.ReadFile("../../docs/POLICY.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := jsonBlocks(string(md))
	if len(blocks) != 2 {
		t.Fatalf("%d json blocks", len(blocks))
	}
	var sets []*Set
	for i, b := range blocks {
		s, err := Parse([]byte(b))
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		sets = append(sets, s)
	}
	if sets[0].Hash() != AdminOnly().Hash() {
		t.Error("the bootstrap policy shown is not the one a new cluster starts with")
	}
	cases := []struct {
		req  Request
		want Decision
		rule string
	}{
		{Request{Capability: "deploy.run", Effects: capability.Effects{capability.Privileged}, AgentType: principal.Human, Admin: true}, Allow, "admins"},
		{Request{Capability: "user.create", Effects: capability.Effects{capability.MutateState}, AgentType: principal.Agent}, Allow, "agents-use-users"},
		{Request{Capability: "ops.reboot", Effects: capability.Effects{capability.Privileged}, AgentType: principal.Agent}, Deny, "no-privileged-agents"},
		{Request{Capability: "deploy.run", Effects: capability.Effects{capability.Privileged}, AgentType: principal.Service}, RequireApproval, "deploys-need-approval"},
		{Request{Capability: "user.read", Effects: capability.Effects{capability.ReadOnly}, AgentType: principal.Human}, Deny, ""},
	}
	for _, tc := range cases {
		res := sets[1].Evaluate(&tc.req)
		if res.Decision != tc.want || res.MatchedRule != tc.rule {
			t.Errorf("%s by %s: %s (%q), the table says %s (%q)", tc.req.Capability, tc.req.AgentType, res.Decision, res.MatchedRule, tc.want, tc.rule)
		}
	}
}
