package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

func mustParse(t testing.TB, doc string) *Set {
	t.Helper()
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return s
}

func req(path string, effects ...capability.EffectType) *Request {
	return &Request{
		Capability: capability.MustPath(path), Effects: effects,
		AgentID: "bob", AgentType: principal.Agent, Tenant: "acme", KeyID: "k_1", Invoker: "k_1",
	}
}

const sample = `{
  "version": "1",
  "default": "deny",
  "rules": [
    {"name": "allow-reads", "priority": 10,
     "when": [{"type": "effect_type", "effect": "read_only"}],
     "action": {"type": "allow"}},
    {"name": "allow-user", "priority": 5,
     "when": [{"type": "capability", "pattern": "user.*"}],
     "action": {"type": "allow"}},
    {"name": "no-privileged-agents", "priority": 50,
     "when": [{"type": "agent_type", "agent_type": "agent"}, {"type": "effect_type", "effect": "privileged"}],
     "action": {"type": "deny", "reason": "agents may not run privileged capabilities", "suggestion": "ask a human"}},
    {"name": "delete-needs-approval", "priority": 1,
     "when": [{"type": "capability", "pattern": "user.delete"}],
     "action": {"type": "require_approval", "approver": "security-team"}}
  ]
}`

func TestEvaluateOrderAndTrace(t *testing.T) {
	s := mustParse(t, sample)
	r := s.Evaluate(req("user.read", capability.ReadOnly))
	if r.Decision != Allow || r.MatchedRule != "allow-reads" ||
		!reflect.DeepEqual(r.EvaluatedRules, []string{"allow-reads", "allow-user"}) {
		t.Errorf("user.read: %+v", r)
	}
	// effect_type compares snake_case names: "read_only" matches ReadOnly.
	r = s.Evaluate(req("report.read", capability.ReadOnly))
	if r.Decision != Allow || r.MatchedRule != "allow-reads" {
		t.Errorf("read_only effect condition: %+v", r)
	}
	if r.PolicyHash != s.Hash() || len(r.PolicyHash) != 64 {
		t.Errorf("policy hash %q", r.PolicyHash)
	}
}

func TestDenyOverridesAndKeepsTrace(t *testing.T) {
	s := mustParse(t, sample)
	r := s.Evaluate(req("user.grant", capability.Privileged))
	if r.Decision != Deny || r.MatchedRule != "no-privileged-agents" ||
		r.Reason != "agents may not run privileged capabilities" || r.Suggestion != "ask a human" {
		t.Errorf("%+v", r)
	}
	// A human is not caught by the agent rule.
	h := req("user.grant", capability.Privileged)
	h.AgentType = principal.Human
	if r := s.Evaluate(h); r.Decision != Allow || r.MatchedRule != "allow-user" {
		t.Errorf("human: %+v", r)
	}
	// A lower-priority deny still overrides a higher-priority allow, and the
	// trace keeps the allow that matched before it.
	s2 := mustParse(t, `{"rules":[
	  {"name":"a","priority":10,"action":{"type":"allow"}},
	  {"name":"d","priority":1,"when":[{"type":"tenant","tenant_id":"acme"}],"action":{"type":"deny","reason":"acme is frozen"}}]}`)
	r = s2.Evaluate(req("x.y"))
	if r.Decision != Deny || !reflect.DeepEqual(r.EvaluatedRules, []string{"a", "d"}) || r.MatchedRule != "d" {
		t.Errorf("%+v", r)
	}
}

func TestRequireApprovalIsNotAllow(t *testing.T) {
	s := mustParse(t, sample)
	r := s.Evaluate(req("user.delete", capability.MutateState))
	if r.Decision != RequireApproval || r.Approver != "security-team" || r.Allowed() {
		t.Errorf("%+v", r)
	}
	if r.MatchedRule != "delete-needs-approval" {
		t.Errorf("matched %q", r.MatchedRule)
	}
}

func TestDefaultDecision(t *testing.T) {
	s := mustParse(t, sample)
	r := s.Evaluate(req("deploy.run", capability.MutateState))
	if r.Decision != Deny || r.MatchedRule != "" || r.Reason != DefaultDenyReason || len(r.EvaluatedRules) != 0 {
		t.Errorf("%+v", r)
	}
	open := mustParse(t, `{"default":"allow","rules":[]}`)
	if r := open.Evaluate(req("deploy.run")); r.Decision != Allow || r.EvaluatedRules == nil {
		t.Errorf("default allow: %+v", r)
	}
	if r := mustParse(t, `{"rules":[]}`).Evaluate(req("a.b")); r.Decision != Deny {
		t.Errorf("omitted default must deny: %+v", r)
	}
}

func TestPatternNotSubstring(t *testing.T) {
	s := mustParse(t, `{"rules":[{"name":"u","when":[{"type":"capability","pattern":"user.*"}],"action":{"type":"allow"}}]}`)
	if s.Evaluate(req("superuser.list")).Decision != Deny {
		t.Error("user.* matched superuser.list")
	}
	if s.Evaluate(req("user.list")).Decision != Allow {
		t.Error("user.* did not match user.list")
	}
}

func TestConditions(t *testing.T) {
	cases := []struct {
		cond string
		mod  func(*Request)
		want bool
	}{
		{`{"type":"agent_type","agent_type":"agent"}`, nil, true},
		{`{"type":"agent_type","agent_type":"human"}`, nil, false},
		{`{"type":"tenant","tenant_id":"acme"}`, nil, true},
		{`{"type":"tenant","tenant_id":"other"}`, nil, false},
		{`{"type":"admin"}`, nil, false},
		{`{"type":"admin"}`, func(r *Request) { r.Admin = true }, true},
		{`{"type":"admin","not":true}`, nil, true},
		{`{"type":"origin_human"}`, func(r *Request) { r.AgentType = principal.Human; r.ChainDepth = 2 }, true},
		{`{"type":"origin_human"}`, nil, false},
		{`{"type":"delegated"}`, func(r *Request) { r.ChainDepth = 1 }, true},
		{`{"type":"delegated"}`, nil, false},
		{`{"type":"chain_depth","min_depth":2,"max_depth":3}`, func(r *Request) { r.ChainDepth = 3 }, true},
		{`{"type":"chain_depth","min_depth":2,"max_depth":3}`, func(r *Request) { r.ChainDepth = 4 }, false},
		{`{"type":"chain_depth","min_depth":2}`, func(r *Request) { r.ChainDepth = 7 }, true},
		{`{"type":"sensitivity","min_level":"high"}`, func(r *Request) { r.Sensitivity = capability.SensitivityCritical }, true},
		{`{"type":"sensitivity","min_level":"high"}`, func(r *Request) { r.Sensitivity = capability.SensitivityMedium }, false},
		{`{"type":"handles_sensitive_data"}`, func(r *Request) { r.DataTags = []capability.DataTag{capability.DataPII} }, true},
		{`{"type":"handles_sensitive_data"}`, nil, false},
		{`{"type":"min_effect_level","level":"network"}`, func(r *Request) { r.Effects = capability.Effects{capability.NetworkAccess} }, true},
		{`{"type":"min_effect_level","level":"network"}`, func(r *Request) { r.Effects = capability.Effects{capability.MutateState} }, false},
		{`{"type":"effect_type","effect":"privileged"}`, func(r *Request) { r.Effects = capability.Effects{capability.ReadOnly, capability.Privileged} }, true},
		{`{"type":"capability","patterns":["a.*","user.read"]}`, nil, true},
	}
	for i, c := range cases {
		s := mustParse(t, `{"rules":[{"name":"r","when":[`+c.cond+`],"action":{"type":"allow"}}]}`)
		r := req("user.read")
		if c.mod != nil {
			c.mod(r)
		}
		if got := s.Evaluate(r).Decision == Allow; got != c.want {
			t.Errorf("case %d %s: matched=%v, want %v", i, c.cond, got, c.want)
		}
	}
}

func TestDisabledRuleNeverMatches(t *testing.T) {
	s := mustParse(t, `{"rules":[{"name":"r","disabled":true,"action":{"type":"allow"}}]}`)
	if r := s.Evaluate(req("a.b")); r.Decision != Deny || len(r.EvaluatedRules) != 0 {
		t.Errorf("%+v", r)
	}
}

func TestHashStable(t *testing.T) {
	a := mustParse(t, sample)
	// Same document, different formatting and key order.
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(sample)); err != nil {
		t.Fatal(err)
	}
	b := mustParse(t, compact.String())
	if a.Hash() != b.Hash() {
		t.Error("formatting changed the hash")
	}
	reordered := mustParse(t, `{"rules":[{"action":{"type":"allow"},"name":"x"}],"default":"deny"}`)
	again := mustParse(t, `{"default":"deny","rules":[{"name":"x","action":{"type":"allow"}}]}`)
	if reordered.Hash() != again.Hash() {
		t.Error("key order changed the hash")
	}
	changed := mustParse(t, strings.Replace(sample, `"priority": 10`, `"priority": 11`, 1))
	if changed.Hash() == a.Hash() {
		t.Error("priority change kept the hash")
	}
	if AdminOnly().Hash() != pinnedAdminOnlyHash {
		t.Errorf("AdminOnly hash = %s (pinned %s): the bootstrap policy changed", AdminOnly().Hash(), pinnedAdminOnlyHash)
	}
}

const pinnedAdminOnlyHash = "ecad8c8afd0ef660a44c1827b7c1596955b02813ebb5c0fcbf98a6ad09d3a8ab"

func TestAdminOnly(t *testing.T) {
	s := AdminOnly()
	r := req("user.create")
	if s.Evaluate(r).Decision != Deny {
		t.Error("non-admin allowed")
	}
	r.Admin = true
	if res := s.Evaluate(r); res.Decision != Allow || res.MatchedRule != "admins-may-invoke-everything" {
		t.Errorf("admin: %+v", res)
	}
}

func TestParseErrors(t *testing.T) {
	bad := map[string]string{
		"unknown field":     `{"rules":[],"extra":1}`,
		"unknown condition": `{"rules":[{"name":"r","when":[{"type":"command","pattern":"user"}],"action":{"type":"allow"}}]}`,
		"bad pattern":       `{"rules":[{"name":"r","when":[{"type":"capability","pattern":"user..x"}],"action":{"type":"allow"}}]}`,
		"bad effect":        `{"rules":[{"name":"r","when":[{"type":"effect_type","effect":"readonly"}],"action":{"type":"allow"}}]}`,
		"bad sensitivity":   `{"rules":[{"name":"r","when":[{"type":"sensitivity","min_level":"extreme"}],"action":{"type":"allow"}}]}`,
		"bad agent type":    `{"rules":[{"name":"r","when":[{"type":"agent_type","agent_type":"robot"}],"action":{"type":"allow"}}]}`,
		"deny no reason":    `{"rules":[{"name":"r","action":{"type":"deny"}}]}`,
		"approval no who":   `{"rules":[{"name":"r","action":{"type":"require_approval"}}]}`,
		"bad action":        `{"rules":[{"name":"r","action":{"type":"rewrite"}}]}`,
		"dup names":         `{"rules":[{"name":"r","action":{"type":"allow"}},{"name":"r","action":{"type":"allow"}}]}`,
		"no name":           `{"rules":[{"action":{"type":"allow"}}]}`,
		"bad default":       `{"default":"maybe","rules":[]}`,
		"trailing":          `{"rules":[]} {}`,
		"bad depth":         `{"rules":[{"name":"r","when":[{"type":"chain_depth","min_depth":3,"max_depth":1}],"action":{"type":"allow"}}]}`,
		"not json":          `rules`,
	}
	for name, doc := range bad {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	s := mustParse(t, sample)
	first := s.Evaluate(req("user.read", capability.ReadOnly))
	for i := 0; i < 3; i++ {
		if got := s.Evaluate(req("user.read", capability.ReadOnly)); !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d differs: %+v vs %+v", i, got, first)
		}
	}
}

// hundredRules builds a realistic 100-rule set where the request matches a
// rule near the end, so most rules are visited.
func hundredRules() *Set {
	return hundredRulesMatching(func(i int) string { return fmt.Sprintf("svc%d.*", i) })
}

// hundredRulesMatching is 99 deny rules for acme, the i-th on the
// capabilities pattern(i) names, then one rule that lets agents read.
func hundredRulesMatching(pattern func(i int) string) *Set {
	doc := Document{Default: Deny}
	for i := 0; i < 99; i++ {
		doc.Rules = append(doc.Rules, Rule{
			Name: fmt.Sprintf("rule-%d", i), Priority: 1000 - i,
			When: []Condition{
				{Type: CondCapability, Pattern: pattern(i)},
				{Type: CondTenant, TenantID: "acme"},
			},
			Action: Action{Type: ActDeny, Reason: "no"},
		})
	}
	doc.Rules = append(doc.Rules, Rule{Name: "agents-read", Priority: 1,
		When:   []Condition{{Type: CondAgentType, AgentType: "agent"}, {Type: CondEffectType, Effect: "read_only"}},
		Action: Action{Type: ActAllow}})
	s, err := Compile(doc)
	if err != nil {
		panic(err)
	}
	return s
}

func TestHundredRules(t *testing.T) {
	s := hundredRules()
	if r := s.Evaluate(req("user.read", capability.ReadOnly)); r.Decision != Allow || r.MatchedRule != "agents-read" {
		t.Fatalf("%+v", r)
	}
	if r := s.Evaluate(req("svc42.read", capability.ReadOnly)); r.Decision != Deny || r.MatchedRule != "rule-42" {
		t.Fatalf("%+v", r)
	}
}

func BenchmarkPolicyEvaluate100Rules(b *testing.B) {
	s := hundredRules()
	r := req("user.read", capability.ReadOnly)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Evaluate(r).Decision != Allow {
			b.Fatal("not allowed")
		}
	}
}

func FuzzPolicyJSON(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"rules":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		// A compiled set always evaluates, deterministically, and its
		// document re-parses to the same hash.
		r1 := s.Evaluate(req("user.read", capability.ReadOnly))
		r2 := s.Evaluate(req("user.read", capability.ReadOnly))
		if !reflect.DeepEqual(r1, r2) {
			t.Fatal("nondeterministic")
		}
		s2, err := Parse(s.JSON())
		if err != nil || s2.Hash() != s.Hash() {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
