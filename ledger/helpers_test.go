package ledger

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// t0 is a fixed base time for tests (2026-01-01T00:00:00Z).
const t0 = int64(1767225600) * 1e9

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decision(agent, tenant, capPath string, d policy.Decision, reason string) Event {
	req := policy.Request{
		Capability: capability.Path(capPath), Effects: capability.Effects{capability.MutateState},
		AgentID: agent, AgentType: principal.Agent, Tenant: tenant,
		KeyID: "k_0123456789abcdef", Invoker: "k_0123456789abcdef",
	}
	res := policy.Result{Decision: d, Reason: reason, EvaluatedRules: []string{"r1"}, MatchedRule: "r1", PolicyHash: "p0"}
	return Event{Data: PolicyDecision{Request: req, Result: res, Command: capPath + " --name alice"}}
}

func withCorr(e Event, corr string) Event {
	e.Correlation = corr
	return e
}

func at(e Event, t int64) Event {
	e.Time = t
	return e
}

func mustAppend(t testing.TB, s *Store, opts AppendOptions, events ...Event) BatchResult {
	t.Helper()
	res, err := s.AppendBatch(events, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sampleEvents is one event of every type, valid as given.
func sampleEvents() []Event {
	pub, _, _ := principal.Generate(zeroReader{})
	p := principal.New(pub, "alice", principal.Human, "default")
	hash := "aa00000000000000000000000000000000000000000000000000000000000000"
	return []Event{
		{Actor: "bob", Capability: "user.read", Data: CapabilityGranted{GrantedBy: "alice"}},
		{Actor: "bob", Capability: "user.read", Data: CapabilityRevoked{RevokedBy: "alice", Reason: "done"}},
		{Actor: "admin", Capability: "user.create", Data: CapabilityRegistered{Version: "1.0.0",
			ID: capability.FromPathVersioned("user.create", "1.0.0"), Digest: hash}},
		{Actor: "admin", Data: PolicyChanged{PolicyID: "main", Change: ChangeUpdated, ChangedBy: "admin", PolicyHash: hash}},
		{Actor: "alice", Data: DelegationCreated{TokenID: "tok1", Delegator: "alice", Delegate: "bob", NotAfter: t0 + 3600e9}},
		{Actor: "bob", Data: DelegationExpired{TokenID: "tok1"}},
		{Actor: "alice", Data: DelegationRevoked{TokenID: "tok2", RevokedBy: "alice"}},
		{Actor: "admin", Data: ModeChanged{From: ModeNormal, To: ModeMaintenance, ChangedBy: "admin"}},
		delegatedDecision(),
		{Actor: "mallory", Data: SecurityViolation{ViolationType: "forged_chain", Severity: SeverityHigh, Description: "bad link"}},
		{Actor: "system", Data: AuditCheckpoint{CheckpointID: "cp-1"}},
		{Actor: "admin", Data: PrincipalRegistered{Principal: p}},
		{Actor: "node-1", Data: NodeJoined{NodeID: "node-1", KeyID: p.KeyID, PublicKey: pub, Address: "127.0.0.1:7000", Voter: true}},
		{Actor: "node-1", Data: NodeLeft{NodeID: "node-1", Reason: "shutdown"}},
		{Actor: "node-1", Data: HotPathBatch{NodeID: "node-1", Since: t0, Until: t0 + 1e9,
			Shards: []ShardCount{{0, 3}, {1, 4}}, Total: 7, Digest: hash, Sessions: []HotPathSession{
				{Certificate: "cert_1", Shard: 0, Number: 1, Count: 3, OK: 3, First: t0, Last: t0 + 5, Prev: hash, Digest: hash},
				{Certificate: "cert_2", Shard: 1, Number: 2, Count: 4, OK: 3, Failed: 1, First: t0, Last: t0, Prev: hash, Digest: hash, Final: true}}}},
		{Actor: "node-1", Data: HotPathLease{NodeID: "node-1", Lease: "node-1/s1", Certificate: "cert_1", Op: LeaseGranted,
			Uses: 64, UseCounts: []UseCount{{Link: hash, Used: 65, Max: 100}}}},
		{Actor: "system", Data: Checkpoint{}},
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	return len(p), nil
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delegatedDecision is a PolicyDecision made through a two-link chain.
func delegatedDecision() Event {
	e := decision("bob", "default", "user.create", policy.Allow, "")
	d := e.Data.(PolicyDecision)
	l1, l2 := delegation.Hash{1}.String(), delegation.Hash{2}.String()
	c, err := delegation.NewConstraints([]string{"user.*"}, nil, []string{"user"}, []string{"create", "read"}, capability.LevelMutate)
	if err != nil {
		panic(err)
	}
	d.ChainLinks, d.Constraints = []string{l1, l2}, &c
	d.UseCounts = []UseCount{{Link: l1, Used: 3, Max: 10}, {Link: l2, Used: 1}}
	d.Request.ChainDepth, d.Request.Invoker = 2, "k_fedcba9876543210"
	d.ArgsDigest, d.RequestID = "aa00000000000000000000000000000000000000000000000000000000000000", "req-77"
	e.Data = d
	return e
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
