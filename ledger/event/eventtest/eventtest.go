// Package eventtest builds ledger events for tests of the packages that
// store, replay or serve them: one valid event of every type, and policy
// decisions. Everything it builds is fixed (no clock, no randomness), so
// tests over it can pin hashes.
package eventtest

import (
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// T0 is a fixed base time for tests (2026-01-01T00:00:00Z).
const T0 = int64(1767225600) * 1e9

// Decision is a PolicyDecision of agent in tenant on capPath, decided d
// for reason by rule r1 of policy p0.
func Decision(agent, tenant, capPath string, d policy.Decision, reason string) event.Event {
	req := policy.Request{
		Capability: capability.Path(capPath), Effects: capability.Effects{capability.MutateState},
		AgentID: agent, AgentType: principal.Agent, Tenant: tenant,
		KeyID: "k_0123456789abcdef", Invoker: "k_0123456789abcdef",
	}
	res := policy.Result{Decision: d, Reason: reason, EvaluatedRules: []string{"r1"}, MatchedRule: "r1", PolicyHash: "p0"}
	return event.Event{Data: event.PolicyDecision{Request: req, Result: res, Command: capPath + " --name alice"}}
}

// Samples is one event of every type, valid as given.
func Samples() []event.Event {
	pub, _, _ := principal.Generate(zeroReader{})
	p := principal.New(pub, "alice", principal.Human, "default")
	hash := "aa00000000000000000000000000000000000000000000000000000000000000"
	return []event.Event{
		{Actor: "bob", Capability: "user.read", Data: event.CapabilityGranted{GrantedBy: "alice"}},
		{Actor: "bob", Capability: "user.read", Data: event.CapabilityRevoked{RevokedBy: "alice", Reason: "done"}},
		{Actor: "admin", Capability: "user.create", Data: event.CapabilityRegistered{Version: "1.0.0",
			ID: capability.FromPathVersioned("user.create", "1.0.0"), Digest: hash}},
		{Actor: "admin", Data: event.PolicyChanged{PolicyID: "main", Change: event.ChangeUpdated, ChangedBy: "admin", PolicyHash: hash}},
		{Actor: "alice", Data: event.DelegationCreated{TokenID: "tok1", Delegator: "alice", Delegate: "bob", NotAfter: T0 + 3600e9}},
		{Actor: "bob", Data: event.DelegationExpired{TokenID: "tok1"}},
		{Actor: "alice", Data: event.DelegationRevoked{TokenID: "tok2", RevokedBy: "alice"}},
		{Actor: "admin", Data: event.ModeChanged{From: event.ModeNormal, To: event.ModeMaintenance, ChangedBy: "admin"}},
		DelegatedDecision(),
		{Actor: "mallory", Data: event.SecurityViolation{ViolationType: "forged_chain", Severity: event.SeverityHigh, Description: "bad link"}},
		{Actor: "system", Data: event.AuditCheckpoint{CheckpointID: "cp-1"}},
		{Actor: "admin", Data: event.PrincipalRegistered{Principal: p}},
		{Actor: "node-1", Data: event.NodeJoined{NodeID: "node-1", KeyID: p.KeyID, PublicKey: pub, Address: "127.0.0.1:7000", Voter: true}},
		{Actor: "node-1", Data: event.NodeLeft{NodeID: "node-1", Reason: "shutdown"}},
		{Actor: "node-1", Data: event.HotPathBatch{NodeID: "node-1", Since: T0, Until: T0 + 1e9,
			Shards: []event.ShardCount{{Shard: 0, Count: 3}, {Shard: 1, Count: 4}}, Total: 7, Digest: hash, Sessions: []event.HotPathSession{
				{Certificate: "cert_1", Shard: 0, Number: 1, Count: 3, OK: 3, First: T0, Last: T0 + 5, Prev: hash, Digest: hash},
				{Certificate: "cert_2", Shard: 1, Number: 2, Count: 4, OK: 3, Failed: 1, First: T0, Last: T0, Prev: hash, Digest: hash, Final: true}}}},
		{Actor: "node-1", Data: event.HotPathLease{NodeID: "node-1", Lease: "node-1/s1", Certificate: "cert_1", Op: event.LeaseGranted,
			Uses: 64, UseCounts: []event.UseCount{{Link: hash, Used: 65, Max: 100}}}},
		{Actor: "node-2", Data: event.MembershipChanged{NodeID: "node-2", Change: event.MemberJoined, KeyID: p.KeyID,
			RaftAddr: "127.0.0.1:7002", APIAddr: "127.0.0.1:8002", Readmitted: 12, By: "token",
			Cause: "join request from 127.0.0.1:51234 with the cluster token"}},
		{Actor: "system", Data: event.Checkpoint{}},
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	return len(p), nil
}

// DelegatedDecision is a PolicyDecision made through a two-link chain.
func DelegatedDecision() event.Event {
	e := Decision("bob", "default", "user.create", policy.Allow, "")
	d := e.Data.(event.PolicyDecision)
	l1, l2 := delegation.Hash{1}.String(), delegation.Hash{2}.String()
	c, err := delegation.NewConstraints([]string{"user.*"}, nil, []string{"user"}, []string{"create", "read"}, capability.LevelMutate)
	if err != nil {
		panic(err)
	}
	d.ChainLinks, d.Constraints = []string{l1, l2}, &c
	d.UseCounts = []event.UseCount{{Link: l1, Used: 3, Max: 10}, {Link: l2, Used: 1}}
	d.Request.ChainDepth, d.Request.Invoker = 2, "k_fedcba9876543210"
	d.ArgsDigest, d.RequestID = "aa00000000000000000000000000000000000000000000000000000000000000", "req-77"
	e.Data = d
	return e
}
