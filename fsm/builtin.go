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

// IsBuiltin reports whether path names a built-in capability.
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
	for _, b := range builtins {
		n := b
		n.Capability = b.Path.ID()
		if _, err := reg.AddCapability(n); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
