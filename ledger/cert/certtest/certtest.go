// Package certtest issues ledger certificates outside a cluster, for
// tests of what verifies them: a decision event alone in a ledger of one
// leaf, under a head signed by the given key.
package certtest

import (
	"crypto/ed25519"
	"encoding/json"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Spec is the decision a test certificate states. Zero fields get
// defaults: an allow, agent "bot" of tenant "default", request id "r".
type Spec struct {
	Capability    capability.Path
	Effects       capability.Effects
	Holder        ed25519.PublicKey
	AgentID       string
	Tenant        string
	RequestID     string
	CorrelationID string
	Decision      policy.Decision
	Time          int64
	Chain         []string
}

// Event is the decision event of s, at ledger index 0.
func Event(s Spec) event.Event {
	if s.AgentID == "" {
		s.AgentID = "bot"
	}
	if s.Tenant == "" {
		s.Tenant = principal.DefaultTenant
	}
	if s.RequestID == "" {
		s.RequestID = "r"
	}
	if s.Decision == "" {
		s.Decision = policy.Allow
	}
	key := principal.IDOf(s.Holder)
	return event.Event{
		Time: s.Time, Actor: s.AgentID, Tenant: s.Tenant, Correlation: s.CorrelationID, Capability: s.Capability,
		Data: event.PolicyDecision{
			Request: policy.Request{Capability: s.Capability, Effects: s.Effects, AgentID: s.AgentID,
				AgentType: principal.Agent, Tenant: s.Tenant, KeyID: key, Invoker: key, ChainDepth: len(s.Chain)},
			Result:    policy.Result{Decision: s.Decision, EvaluatedRules: []string{"test"}, MatchedRule: "test", PolicyHash: "ph"},
			RequestID: s.RequestID, ChainLinks: s.Chain,
		},
	}
}

// Issue returns the answer a node holding key would give for s.
func Issue(s Spec, key ed25519.PrivateKey) (certificate.Answer, error) {
	ev := Event(s)
	b, err := ev.MarshalCanonical()
	if err != nil {
		return certificate.Answer{}, err
	}
	h, err := cert.SignHead(1, rfc6962.DefaultHasher.HashLeaf(b), key)
	if err != nil {
		return certificate.Answer{}, err
	}
	var a certificate.Answer
	err = cert.Issue(&a, &ev, b, nil, h)
	return a, err
}

// JSON is Issue as the JSON document a client holds; it panics on an
// invalid spec (a test's mistake).
func JSON(s Spec, key ed25519.PrivateKey) []byte {
	a, err := Issue(s, key)
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(&a)
	if err != nil {
		panic(err)
	}
	return b
}
