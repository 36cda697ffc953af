package policy

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

// evaluateNaive is Evaluate without the noun index: every rule is visited.
func evaluateNaive(s *Set, req *Request) Result {
	saved, savedGeneric := s.byNoun, s.generic
	all := make([]int, len(s.rules))
	for i := range all {
		all[i] = i
	}
	s.byNoun, s.generic = nil, all
	defer func() { s.byNoun, s.generic = saved, savedGeneric }()
	return s.Evaluate(req)
}

// The noun index must never change a decision or its trace.
func TestIndexAgreesWithFullScan(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	nouns := []string{"user", "svc", "deploy", "*"}
	verbs := []string{"read", "create", "*", "**"}
	paths := []string{"user.read", "user.create", "svc.read", "deploy.run", "other.read", "user.admin.create"}
	for iter := 0; iter < 200; iter++ {
		doc := Document{Default: []Decision{Allow, Deny}[rng.Intn(2)]}
		for i := 0; i < 1+rng.Intn(12); i++ {
			r := Rule{Name: fmt.Sprintf("r%d", i), Priority: rng.Intn(4)}
			for c := 0; c < rng.Intn(3); c++ {
				switch rng.Intn(3) {
				case 0:
					pat := nouns[rng.Intn(len(nouns))] + "." + verbs[rng.Intn(len(verbs))]
					if pat == "*.**" {
						pat = "**"
					}
					r.When = append(r.When, Condition{Type: CondCapability, Pattern: pat, Not: rng.Intn(4) == 0})
				case 1:
					r.When = append(r.When, Condition{Type: CondAgentType, AgentType: "agent"})
				case 2:
					r.When = append(r.When, Condition{Type: CondEffectType, Effect: "read_only", Not: rng.Intn(2) == 0})
				}
			}
			switch rng.Intn(3) {
			case 0:
				r.Action = Action{Type: ActAllow}
			case 1:
				r.Action = Action{Type: ActDeny, Reason: "no"}
			case 2:
				r.Action = Action{Type: ActRequireApproval, Approver: "ops"}
			}
			doc.Rules = append(doc.Rules, r)
		}
		s, err := Compile(doc)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, p := range paths {
			for _, at := range []principal.AgentType{principal.Agent, principal.Human} {
				rq := req(p, capability.ReadOnly)
				rq.AgentType = at
				if got, want := s.Evaluate(rq), evaluateNaive(s, rq); !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d iter %d path %s: indexed %+v, full scan %+v", seed, iter, p, got, want)
				}
			}
		}
	}
}

// BenchmarkPolicyEvaluate100GenericRules is the worst case for the index:
// no rule is confined to a noun, so all 100 are visited.
func BenchmarkPolicyEvaluate100GenericRules(b *testing.B) {
	s := hundredRulesMatching(func(i int) string { return fmt.Sprintf("*.verb%d", i) })
	r := req("user.read", capability.ReadOnly)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Evaluate(r).Decision != Allow {
			b.Fatal("not allowed")
		}
	}
}
