package principal

import (
	"crypto/ed25519"
	"fmt"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// AgentType is the kind of actor behind a key.
type AgentType string

const (
	Human   AgentType = "human"
	Agent   AgentType = "agent"
	Service AgentType = "service"
	System  AgentType = "system"
)

// ErrInvalidPrincipal is returned for a malformed principal record.
var ErrInvalidPrincipal = cnverr.New(cnverr.InvalidInput, "invalid principal")

// ParseAgentType validates an agent type name.
func ParseAgentType(s string) (AgentType, error) {
	switch t := AgentType(s); t {
	case Human, Agent, Service, System:
		return t, nil
	}
	return "", fmt.Errorf("%w: agent type %q (want human, agent, service or system)", ErrInvalidPrincipal, s)
}

// DefaultTenant is the tenant of principals registered without one.
const DefaultTenant = "default"

// Principal binds a public key to an identity. It is what the cluster
// registers and replicates; KeyID is always IDOf(PublicKey).
type Principal struct {
	KeyID     KeyID             `json:"key_id"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	AgentID   string            `json:"agent_id"`
	AgentType AgentType         `json:"agent_type"`
	Tenant    string            `json:"tenant"`
	Admin     bool              `json:"admin,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// New returns a principal for pub with its key ID filled in.
func New(pub ed25519.PublicKey, agentID string, t AgentType, tenant string) Principal {
	if tenant == "" {
		tenant = DefaultTenant
	}
	return Principal{KeyID: IDOf(pub), PublicKey: pub, AgentID: agentID, AgentType: t, Tenant: tenant}
}

// Validate checks the record's fields and that the key ID matches the key.
func (p Principal) Validate() error {
	if len(p.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key has %d bytes, want %d", ErrInvalidPrincipal, len(p.PublicKey), ed25519.PublicKeySize)
	}
	if p.KeyID != IDOf(p.PublicKey) {
		return fmt.Errorf("%w: key_id %q does not match the public key (%q)", ErrInvalidPrincipal, p.KeyID, IDOf(p.PublicKey))
	}
	if err := CheckID("agent_id", p.AgentID); err != nil {
		return err
	}
	if err := CheckID("tenant", p.Tenant); err != nil {
		return err
	}
	_, err := ParseAgentType(string(p.AgentType))
	return err
}

// CheckID validates an identifier field (agent, tenant, node, correlation
// and request IDs): 1 to limits.MaxIDLen printable ASCII characters.
func CheckID(field, s string) error {
	if s == "" || len(s) > limits.MaxIDLen {
		return cnverr.New(cnverr.InvalidInput, "%s must be 1 to %d characters, got %d", field, limits.MaxIDLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return cnverr.New(cnverr.InvalidInput, "%s has a non-printable or non-ASCII byte at %d", field, i)
		}
	}
	return nil
}
