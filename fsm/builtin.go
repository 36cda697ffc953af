package fsm

import (
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/graph"
)

// Built-in governance capabilities. Governance is done by invoking these,
// so it is authenticated, policy-checked and ledgered like everything else;
// the bootstrap policy lets only admin keys invoke them.
const (
	CapCapabilityRegister = "capability.register"
	CapPolicySet          = "policy.set"
	CapPrincipalRegister  = "principal.register"
	CapDelegationRevoke   = "delegation.revoke"
	CapLedgerCheckpoint   = "ledger.checkpoint"
)

var builtins = []graph.Node{
	{Path: CapCapabilityRegister, Effects: capability.Effects{capability.MutateOntology}, Sensitivity: capability.SensitivityHigh,
		Description: "register capabilities, edges and path policies from a capability file (payload)"},
	{Path: CapPolicySet, Effects: capability.Effects{capability.MutateSecurity}, Sensitivity: capability.SensitivityCritical,
		Description: "replace the cluster's policy set (payload: policy JSON)"},
	{Path: CapPrincipalRegister, Effects: capability.Effects{capability.MutateSecurity}, Sensitivity: capability.SensitivityHigh,
		Description: "register a principal: key, agent id, agent type, tenant (payload: JSON)"},
	{Path: CapDelegationRevoke, Effects: capability.Effects{capability.MutateSecurity}, Sensitivity: capability.SensitivityHigh,
		Description: "revoke a delegation link and every chain through it (--link HASH)"},
	{Path: CapLedgerCheckpoint, Effects: capability.Effects{capability.MutateState},
		Description: "cut a ledger checkpoint now"},
}

// The built-in FastPath capabilities every node's hot path serves
// (hot/server's CounterPath and EchoPath). They are in every registry
// from the start, so a certificate for them can be had without
// registering anything first.
const (
	CapHotCounter = "hot.counter"
	CapHotEcho    = "hot.echo"
)

var hotBuiltins = []graph.Node{
	{Path: CapHotCounter, Effects: capability.Effects{capability.MutateState}, FastPath: true, Reliability: 100,
		Description: "hot path: add the argument (1 when empty) to the node's counter and answer the total"},
	{Path: CapHotEcho, Effects: capability.Effects{capability.ReadOnly}, FastPath: true, Reliability: 100,
		Description: "hot path: answer the arguments unchanged"},
}

// IsBuiltin reports whether path names a built-in governance capability
// (not the hot-path built-ins).
func IsBuiltin(path capability.Path) bool {
	for _, b := range builtins {
		if b.Path == path {
			return true
		}
	}
	return false
}

func builtinRegistry() (*graph.Registry, error) {
	reg := graph.NewRegistry()
	for _, b := range append(append([]graph.Node(nil), builtins...), hotBuiltins...) {
		n := b
		n.Capability = b.Path.ID()
		if _, err := reg.AddCapability(n); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
