package fsm

import (
	"encoding/json"
	"fmt"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// governance validates a built-in capability's payload and returns the
// state change to make once the decision is ledgered (nil for ordinary
// capabilities). A payload that cannot be applied rejects the invocation
// before anything is charged or ledgered.
func (a *applier) governance(c *Invoke, path capability.Path) (func(), error) {
	inv := &c.Invocation
	switch path {
	case CapPolicySet:
		set, err := policy.Parse(inv.Payload)
		if err != nil {
			return nil, err
		}
		return func() { a.setPolicy(c, set) }, nil
	case CapPrincipalRegister:
		p, err := parsePrincipal(inv.Payload)
		if err != nil {
			return nil, err
		}
		return func() { a.registerPrincipal(c, p) }, nil
	case CapCapabilityRegister:
		return a.prepareRegister(c)
	case CapDelegationRevoke:
		v, _ := inv.Arg("link")
		h, err := delegation.ParseHash(v)
		if err != nil {
			return nil, cnverr.New(cnverr.InvalidInput, "delegation.revoke needs --link HASH: %v", err)
		}
		reason, _ := inv.Arg("reason")
		return func() { a.revoke(h, c.Invoker, reason) }, nil
	case CapLedgerCheckpoint:
		return func() { a.appendEvents(event.Event{Actor: string(c.Invoker), Data: event.Checkpoint{}}) }, nil
	}
	return nil, nil
}

func (a *applier) setPolicy(c *Invoke, set *policy.Set) {
	must(a.st.SetPolicy(c.Invocation.Payload))
	old := a.w.policy
	a.w.setPolicy(set)
	a.appendEvents(event.Event{Actor: string(c.Invoker), Data: event.PolicyChanged{
		PolicyID: set.Hash(), Change: event.ChangeUpdated, ChangedBy: string(c.Invoker),
		PolicyHash: set.Hash(), Version: set.Version()},
		Metadata: map[string]string{"previous_policy_hash": old.Hash()}})
}

// principalDoc is the principal.register payload.
type principalDoc struct {
	PublicKey []byte              `json:"public_key"`
	AgentID   string              `json:"agent_id"`
	AgentType principal.AgentType `json:"agent_type"`
	Tenant    string              `json:"tenant"`
	Admin     bool                `json:"admin,omitempty"`
	Metadata  map[string]string   `json:"metadata,omitempty"`
}

func parsePrincipal(payload []byte) (principal.Principal, error) {
	var d principalDoc
	if err := json.Unmarshal(payload, &d); err != nil {
		return principal.Principal{}, cnverr.New(cnverr.InvalidInput, "principal.register payload: %v", err)
	}
	p := principal.New(d.PublicKey, d.AgentID, d.AgentType, d.Tenant)
	if len(d.PublicKey) != 32 {
		return principal.Principal{}, cnverr.New(cnverr.InvalidInput, "principal.register: public key must be 32 bytes, got %d", len(d.PublicKey))
	}
	p.Admin, p.Metadata = d.Admin, d.Metadata
	return p, p.Validate()
}

func (a *applier) registerPrincipal(c *Invoke, p principal.Principal) {
	must(a.st.PutPrincipal(p))
	a.w.putPrincipal(p)
	a.appendEvents(event.Event{Actor: p.AgentID, Tenant: p.Tenant,
		Data: event.PrincipalRegistered{Principal: p}, Metadata: map[string]string{"registered_by": string(c.Invoker)}})
}

// prepareRegister merges a capability file into a copy of the registry, so
// duplicates and dangling edges are refused before anything is applied.
func (a *applier) prepareRegister(c *Invoke) (func(), error) {
	file, err := graph.ParseFile(c.Invocation.Payload)
	if err != nil {
		return nil, err
	}
	trial := a.w.registry.Clone()
	if err := trial.Merge(file); err != nil {
		return nil, err
	}
	return func() {
		must(a.st.AddCapabilityFile(c.Invocation.Payload, a.raftIndex))
		a.w.registry, a.w.registryDirty, a.w.registryIndex = trial, true, a.raftIndex
		for _, fc := range file.Capabilities {
			n := fc.Node()
			a.appendEvents(event.Event{Actor: string(c.Invoker), Capability: n.Path,
				Data: event.CapabilityRegistered{Version: n.Version, ID: n.Ref().ID(), Effects: n.Effects,
					Digest: fmt.Sprintf("%x", sha256Sum(c.Invocation.Payload))}})
		}
	}, nil
}
