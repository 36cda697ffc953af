package workload

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Capabilities the workload registers.
const (
	CapAppend = "jepsen.append" // appended by the admin with a unique correlation id
	CapUse    = "jepsen.use"    // invoked by the agent through a counted link
)

const capabilityFile = `{"capabilities":[
 {"path":"jepsen.append","effects":["mutate_state"],"description":"fault-injection ledger append"},
 {"path":"jepsen.use","effects":["mutate_state"],"description":"fault-injection counted use"}]}`

// Link is a delegation link from the admin to the agent with a use limit.
type Link struct {
	Hash    string
	Token   []byte // PEM, as Invocation.Chain carries it
	MaxUses uint64
}

// Setup is what workers share: the keys and the links.
type Setup struct {
	Admin *client.Client // signs as the admin
	Agent *client.Client // signs as the agent
	Links []Link
}

// Close releases the clients' connections.
func (s *Setup) Close() {
	s.Admin.Close()
	s.Agent.Close()
}

// Prepare registers the workload's capabilities and agent through addr and
// issues n links of maxUses each, valid from an hour ago for a day (so
// clock skew of minutes does not expire them).
func Prepare(ctx context.Context, admin ed25519.PrivateKey, addr string, n int, maxUses uint64, timeout time.Duration) (*Setup, error) {
	s := &Setup{Admin: client.New(client.Options{Key: admin, Timeout: timeout})}
	agentPub, agentKey, err := principal.Generate(nil)
	if err != nil {
		return nil, err
	}
	s.Agent = client.New(client.Options{Key: agentKey, Timeout: timeout})
	doc, _ := json.Marshal(map[string]any{"public_key": []byte(agentPub), "agent_id": "jepsen-agent",
		"agent_type": "agent", "tenant": "jepsen"})
	for _, inv := range []invocation.Invocation{
		{Capability: "capability.register", Payload: []byte(capabilityFile)},
		{Capability: "principal.register", Payload: doc},
	} {
		if err := govern(ctx, s.Admin, addr, inv); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.Links, err = issueLinks(admin, agentPub, n, maxUses); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// govern invokes a governance capability and insists on an allow.
func govern(ctx context.Context, c *client.Client, addr string, inv invocation.Invocation) error {
	outs, err := c.Invoke(ctx, addr, inv)
	if err != nil {
		return fmt.Errorf("%s: %w", inv.Capability, err)
	}
	if o := outs[0]; o.Error != nil || o.Decision != "allow" {
		return fmt.Errorf("%s: decision %q %s %v", inv.Capability, o.Decision, o.Reason, o.Error)
	}
	return nil
}

func issueLinks(admin ed25519.PrivateKey, agent ed25519.PublicKey, n int, maxUses uint64) ([]Link, error) {
	cons, err := delegation.NewConstraints([]string{CapUse}, nil, []string{"jepsen"}, []string{"use"}, capability.LevelMutate)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	links := make([]Link, n)
	for i := range links {
		l, err := delegation.Issue(admin, delegation.Grant{Audience: agent, Constraints: cons,
			NotBefore: now.Add(-time.Hour).UnixNano(), NotAfter: now.Add(24 * time.Hour).UnixNano(), MaxUses: maxUses}, nil, nil)
		if err != nil {
			return nil, err
		}
		tok, err := delegation.Encode(l)
		if err != nil {
			return nil, err
		}
		links[i] = Link{Hash: l.Hash().String(), Token: tok, MaxUses: maxUses}
	}
	return links, nil
}
