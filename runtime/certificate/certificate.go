package certificate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Sentinel errors: one per refused transition, plus what signing needs.
var (
	ErrPolicyDenied           = cnverr.New(cnverr.PermissionDenied, "policy denied")
	ErrApprovalRequired       = cnverr.New(cnverr.PermissionDenied, "approval required")
	ErrCapabilityNotAvailable = cnverr.New(cnverr.CommandNotFound, "capability not available")
	ErrExpired                = cnverr.New(cnverr.PermissionDenied, "certificate expired")
	ErrNotYetValid            = cnverr.New(cnverr.PermissionDenied, "certificate not yet valid")
	ErrInvalid                = cnverr.New(cnverr.InvalidInput, "invalid certificate")
	ErrBadSignature           = cnverr.New(cnverr.Unauthenticated, "certificate signature does not verify")
	ErrUntrustedSigner        = cnverr.New(cnverr.Unauthenticated, "certificate signer is not trusted")
	ErrNotVerified            = cnverr.New(cnverr.PermissionDenied, "certificate is not verified")
	// ErrBadProof: a ledger certificate's inclusion proof does not lead
	// from its event to the root its signed checkpoint states.
	ErrBadProof = cnverr.New(cnverr.Unauthenticated, "certificate inclusion proof does not verify")
	// ErrFieldMismatch: a field a certificate document shows disagrees
	// with what its signed bytes state.
	ErrFieldMismatch = cnverr.New(cnverr.Unauthenticated, "certificate field disagrees with its signed bytes")
)

// State is a certificate's position in the check pipeline.
type State uint8

const (
	StateUnchecked State = iota
	StatePolicyChecked
	StateCapabilityChecked
	StateVerified
)

func (s State) String() string {
	switch s {
	case StateUnchecked:
		return "unchecked"
	case StatePolicyChecked:
		return "policy_checked"
	case StateCapabilityChecked:
		return "capability_checked"
	case StateVerified:
		return "verified"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// The state markers. They are types, not values: Certificate[Verified] and
// Certificate[Unchecked] are different types, so a handler that takes
// Certificate[Verified] cannot be given anything else.
type (
	Unchecked         struct{}
	PolicyChecked     struct{}
	CapabilityChecked struct{}
	Verified          struct{}
)

// StateMarker is satisfied by the four marker types only.
type StateMarker interface {
	Unchecked | PolicyChecked | CapabilityChecked | Verified
}

func stateOf[S StateMarker]() State {
	var s S
	switch any(s).(type) {
	case PolicyChecked:
		return StatePolicyChecked
	case CapabilityChecked:
		return StateCapabilityChecked
	case Verified:
		return StateVerified
	}
	return StateUnchecked
}

// Trace records why the invocation was allowed.
type Trace struct {
	PolicyHash     string          `json:"policy_hash"`
	Decision       policy.Decision `json:"decision"`
	Reason         string          `json:"reason,omitempty"`
	EvaluatedRules []string        `json:"evaluated_rules"`
	MatchedRule    string          `json:"matched_rule,omitempty"`
}

// Body is everything a certificate asserts. It is the signed content.
type Body struct {
	ID               string                `json:"certificate_id"`
	State            State                 `json:"state"`
	CapabilityID     capability.ID         `json:"capability_id"`
	Capability       capability.Path       `json:"capability"`
	Version          string                `json:"version,omitempty"`
	Effects          []capability.Metadata `json:"effects"`
	InputSchemaHash  string                `json:"input_schema_hash"`
	OutputSchemaHash string                `json:"output_schema_hash"`
	AgentID          string                `json:"agent_id"`
	AgentType        principal.AgentType   `json:"agent_type"`
	KeyID            principal.KeyID       `json:"key_id"`
	Tenant           string                `json:"tenant"`
	Origin           principal.KeyID       `json:"origin,omitempty"`
	Chain            []string              `json:"chain,omitempty"`
	CorrelationID    string                `json:"correlation_id,omitempty"`
	RequestID        string                `json:"request_id,omitempty"`
	Trace            Trace                 `json:"policy_trace"`
	IssuedAt         int64                 `json:"issued_at"`
	ExpiresAt        int64                 `json:"expires_at"`
	LedgerIndex      uint64                `json:"ledger_index,omitempty"`
	LeafHash         string                `json:"leaf_hash,omitempty"`
	Signer           principal.KeyID       `json:"signer,omitempty"`
}

// Certificate is a certificate in state S. Its zero value is not a
// certificate: Valid reports false and accessors return zero values.
type Certificate[S StateMarker] struct {
	b *Body
	// signed holds the exact signed bytes and signature of a Verified
	// certificate.
	signed, sig []byte
}

// Valid reports whether c was produced by this package's transitions and is
// in state S.
func (c Certificate[S]) Valid() bool { return c.b != nil && c.b.State == stateOf[S]() }

// Body returns a copy of the certificate's content.
func (c Certificate[S]) Body() Body {
	if c.b == nil {
		return Body{}
	}
	out := *c.b
	out.Effects = append([]capability.Metadata(nil), c.b.Effects...)
	out.Chain = append([]string(nil), c.b.Chain...)
	out.Trace.EvaluatedRules = append([]string(nil), c.b.Trace.EvaluatedRules...)
	return out
}

// ID, CapabilityID, AgentID and Tenant are the common accessors.
func (c Certificate[S]) ID() string { return c.field(func(b *Body) string { return b.ID }) }
func (c Certificate[S]) CapabilityID() capability.ID {
	return capability.ID(c.field(func(b *Body) string { return string(b.CapabilityID) }))
}
func (c Certificate[S]) AgentID() string { return c.field(func(b *Body) string { return b.AgentID }) }
func (c Certificate[S]) Tenant() string  { return c.field(func(b *Body) string { return b.Tenant }) }

func (c Certificate[S]) field(f func(*Body) string) string {
	if c.b == nil {
		return ""
	}
	return f(c.b)
}

// DefaultTTL is a certificate's lifetime when Params.TTL is zero.
const DefaultTTL = time.Hour

// Params is what New needs. Times are given, never read from a clock here.
type Params struct {
	Capability    capability.Ref
	Effects       []capability.Metadata
	Input, Output *capability.Schema
	AgentID       string
	AgentType     principal.AgentType
	KeyID         principal.KeyID
	Tenant        string
	Origin        principal.KeyID
	Chain         []string
	CorrelationID string
	RequestID     string
	IssuedAt      int64
	TTL           time.Duration
}

// New returns an unchecked certificate. Its ID is "cert_" + 24 hex digits
// of SHA-256 over the body's canonical encoding, so it is derived from the
// content (request ID and issue time make it unique), not from randomness.
func New(p Params) (Certificate[Unchecked], error) {
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	if p.TTL < 0 {
		return Certificate[Unchecked]{}, fmt.Errorf("%w: negative ttl %s", ErrInvalid, p.TTL)
	}
	if err := p.Capability.Path.ID().Validate(); err != nil || p.Capability.Path == "" {
		return Certificate[Unchecked]{}, fmt.Errorf("%w: capability %q", ErrInvalid, p.Capability.Path)
	}
	if p.Tenant == "" {
		p.Tenant = principal.DefaultTenant
	}
	b := &Body{
		State:            StateUnchecked,
		CapabilityID:     p.Capability.ID(),
		Capability:       p.Capability.Path,
		Version:          p.Capability.Version,
		Effects:          append([]capability.Metadata(nil), p.Effects...),
		InputSchemaHash:  p.Input.Hash(),
		OutputSchemaHash: p.Output.Hash(),
		AgentID:          p.AgentID,
		AgentType:        p.AgentType,
		KeyID:            p.KeyID,
		Tenant:           p.Tenant,
		Origin:           p.Origin,
		Chain:            append([]string(nil), p.Chain...),
		CorrelationID:    p.CorrelationID,
		RequestID:        p.RequestID,
		Trace: Trace{Decision: policy.Deny, Reason: "not yet evaluated",
			EvaluatedRules: []string{}},
		IssuedAt:  p.IssuedAt,
		ExpiresAt: p.IssuedAt + int64(p.TTL),
	}
	sum := sha256.Sum256(codec.MustMarshal(b))
	b.ID = "cert_" + hex.EncodeToString(sum[:12])
	return Certificate[Unchecked]{b: b}, nil
}

// advance moves the body into the next state. The transition consumes its
// input: the old handle shares the body, now in the new state, so it is no
// longer Valid and cannot be advanced twice. Transitions of one certificate
// must not run concurrently; a Verified certificate is immutable and safe
// to share.
func advance[From, To StateMarker](c Certificate[From]) Certificate[To] {
	c.b.State = stateOf[To]()
	return Certificate[To]{b: c.b}
}
