package event

import (
	"crypto/ed25519"
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Type names an event's kind. The names are the original CNV's variants
// plus the ones the cluster needs.
type Type string

// Event types.
const (
	TypeCapabilityGranted    Type = "CapabilityGranted"
	TypeCapabilityRevoked    Type = "CapabilityRevoked"
	TypeCapabilityRegistered Type = "CapabilityRegistered"
	TypePolicyChanged        Type = "PolicyChanged"
	TypeDelegationCreated    Type = "DelegationCreated"
	TypeDelegationExpired    Type = "DelegationExpired"
	TypeDelegationRevoked    Type = "DelegationRevoked"
	TypeModeChanged          Type = "ModeChanged"
	TypePolicyDecision       Type = "PolicyDecision"
	TypeSecurityViolation    Type = "SecurityViolation"
	TypeAuditCheckpoint      Type = "AuditCheckpoint"
	TypePrincipalRegistered  Type = "PrincipalRegistered"
	TypeNodeJoined           Type = "NodeJoined"
	TypeNodeLeft             Type = "NodeLeft"
	TypeHotPathBatch         Type = "HotPathBatch"
	TypeHotPathLease         Type = "HotPathLease"
	TypeMembershipChanged    Type = "MembershipChanged"
	TypeCheckpoint           Type = "Checkpoint"
)

// Types lists every event type, sorted by name.
func Types() []Type {
	return []Type{
		TypeAuditCheckpoint, TypeCapabilityGranted, TypeCapabilityRegistered,
		TypeCapabilityRevoked, TypeCheckpoint, TypeDelegationCreated,
		TypeDelegationExpired, TypeDelegationRevoked, TypeHotPathBatch,
		TypeHotPathLease, TypeMembershipChanged, TypeModeChanged, TypeNodeJoined, TypeNodeLeft, TypePolicyChanged,
		TypePolicyDecision, TypePrincipalRegistered, TypeSecurityViolation,
	}
}

// ParseType validates an event type name.
func ParseType(s string) (Type, error) {
	for _, t := range Types() {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: unknown event type %q (want one of %v)", ErrInvalidEvent, s, Types())
}

// Payload is the typed data of one event type. The set of payloads is
// closed: only this package's types implement it.
type Payload interface {
	// EventType is the type of event this payload belongs to.
	EventType() Type
	validate() error
}

// CapabilityGranted records that the event's actor was granted the event's
// capability.
type CapabilityGranted struct {
	GrantedBy string `json:"granted_by"`
}

// CapabilityRevoked records that the event's actor lost the event's
// capability.
type CapabilityRevoked struct {
	RevokedBy string `json:"revoked_by"`
	Reason    string `json:"reason,omitempty"`
}

// CapabilityRegistered records a capability added to (or updated in) the
// registry; the path is the event's capability.
type CapabilityRegistered struct {
	Version string             `json:"version,omitempty"`
	ID      capability.ID      `json:"id"`
	Effects capability.Effects `json:"effects,omitempty"`
	// Digest is the hex SHA-256 of the canonical registration document.
	Digest string `json:"digest"`
}

// ChangeType is how a policy changed.
type ChangeType string

// Policy change types.
const (
	ChangeCreated  ChangeType = "created"
	ChangeUpdated  ChangeType = "updated"
	ChangeDeleted  ChangeType = "deleted"
	ChangeEnabled  ChangeType = "enabled"
	ChangeDisabled ChangeType = "disabled"
)

// ChangeTypes lists the five change types.
func ChangeTypes() []ChangeType {
	return []ChangeType{ChangeCreated, ChangeUpdated, ChangeDeleted, ChangeEnabled, ChangeDisabled}
}

// PolicyChanged records a change to the policy set.
type PolicyChanged struct {
	PolicyID  string     `json:"policy_id"`
	Change    ChangeType `json:"change_type"`
	ChangedBy string     `json:"changed_by"`
	// PolicyHash is the hash of the policy set in force after the change;
	// the ledger remembers the latest one for its checkpoints.
	PolicyHash string `json:"policy_hash,omitempty"`
	Version    string `json:"version,omitempty"`
}

// DelegationCreated records a delegation link issued by Delegator to
// Delegate. TokenID is the link's hash.
type DelegationCreated struct {
	TokenID   string `json:"token_id"`
	Delegator string `json:"delegator"`
	Delegate  string `json:"delegate"`
	// NotAfter is the link's expiry in Unix nanoseconds (0: none).
	NotAfter int64 `json:"not_after,omitempty"`
}

// DelegationExpired records that a link's time window closed.
type DelegationExpired struct {
	TokenID string `json:"token_id"`
}

// DelegationRevoked records a revoked link; every chain through it is
// invalid from this event on.
type DelegationRevoked struct {
	TokenID   string `json:"token_id"`
	RevokedBy string `json:"revoked_by"`
	Reason    string `json:"reason,omitempty"`
}

// Mode is the cluster's operating mode.
type Mode string

// Operating modes.
const (
	ModeNormal      Mode = "normal"
	ModeRestricted  Mode = "restricted"
	ModeMaintenance Mode = "maintenance"
	ModeEmergency   Mode = "emergency"
)

// ModeChanged records a change of operating mode.
type ModeChanged struct {
	From      Mode   `json:"from_mode"`
	To        Mode   `json:"to_mode"`
	ChangedBy string `json:"changed_by"`
}

// Severity grades a security violation: low < medium < high < critical.
type Severity string

// Severities, in increasing order.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

var severityRank = map[Severity]int{SeverityLow: 1, SeverityMedium: 2, SeverityHigh: 3, SeverityCritical: 4}

// Rank orders severities (1 for low to 4 for critical; 0 when unknown).
func (s Severity) Rank() int { return severityRank[s] }

// SecurityViolation records a detected violation.
type SecurityViolation struct {
	ViolationType string   `json:"violation_type"`
	Severity      Severity `json:"severity"`
	Description   string   `json:"description,omitempty"`
}

// AuditCheckpoint is the original CNV's checkpoint marker. EventsSinceLast
// is filled in by the ledger: the number of events since the previous
// AuditCheckpoint or Checkpoint event (or since the start), not counting
// that previous checkpoint itself.
type AuditCheckpoint struct {
	CheckpointID    string `json:"checkpoint_id"`
	EventsSinceLast uint64 `json:"events_since_last"`
}

// Checkpoint records in the log itself that a checkpoint was cut: the tree
// head (Size, Root) just before this event and the policy hash in force.
// The ledger fills in every field, so every replica derives the same
// checkpoint body from it (CheckpointBody) and nodes can cosign it
// independently.
type Checkpoint struct {
	Size            uint64 `json:"size"`
	Root            string `json:"root"`
	PolicyHash      string `json:"policy_hash,omitempty"`
	EventsSinceLast uint64 `json:"events_since_last"`
}

// PrincipalRegistered records a principal (key and identity) registration.
type PrincipalRegistered struct {
	Principal principal.Principal `json:"principal"`
}

// NodeJoined records a node joining the cluster with its node key, so a
// verifier can learn the keys that sign checkpoints from the ledger itself.
type NodeJoined struct {
	NodeID    string            `json:"node_id"`
	KeyID     principal.KeyID   `json:"key_id"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	Address   string            `json:"address,omitempty"`
	Voter     bool              `json:"voter,omitempty"`
}

// NodeLeft records a node leaving (or being removed from) the cluster, in
// ledgers written before MembershipChanged: removals now record a
// MembershipChanged event (change removed) with who asked.
type NodeLeft struct {
	NodeID string `json:"node_id"`
	Reason string `json:"reason,omitempty"`
}

// ShardCount is one hot-path shard's invocation count in a batch.
type ShardCount struct {
	Shard uint32 `json:"shard"`
	Count uint64 `json:"count"`
}

// HotPathBatch accounts for hot-path invocations run on a node in a time
// window: counts per shard and a digest of what ran.
type HotPathBatch struct {
	NodeID string       `json:"node_id"`
	Since  int64        `json:"since"`
	Until  int64        `json:"until"`
	Shards []ShardCount `json:"shards"`
	Total  uint64       `json:"total"`
	// Digest is the hex SHA-256 chaining every invocation that ran.
	Digest string `json:"digest"`
	// Sessions, when present, account per certificate (per hot-path
	// session); their counts sum to Total.
	Sessions []HotPathSession `json:"sessions,omitempty"`
}

// EventType implementations.
func (CapabilityGranted) EventType() Type    { return TypeCapabilityGranted }
func (CapabilityRevoked) EventType() Type    { return TypeCapabilityRevoked }
func (CapabilityRegistered) EventType() Type { return TypeCapabilityRegistered }
func (PolicyChanged) EventType() Type        { return TypePolicyChanged }
func (DelegationCreated) EventType() Type    { return TypeDelegationCreated }
func (DelegationExpired) EventType() Type    { return TypeDelegationExpired }
func (DelegationRevoked) EventType() Type    { return TypeDelegationRevoked }
func (ModeChanged) EventType() Type          { return TypeModeChanged }
func (PolicyDecision) EventType() Type       { return TypePolicyDecision }
func (SecurityViolation) EventType() Type    { return TypeSecurityViolation }
func (AuditCheckpoint) EventType() Type      { return TypeAuditCheckpoint }
func (Checkpoint) EventType() Type           { return TypeCheckpoint }
func (PrincipalRegistered) EventType() Type  { return TypePrincipalRegistered }
func (NodeJoined) EventType() Type           { return TypeNodeJoined }
func (NodeLeft) EventType() Type             { return TypeNodeLeft }
func (HotPathBatch) EventType() Type         { return TypeHotPathBatch }

// Field checks shared by the payloads.

func checkID(field, s string) error {
	if err := principal.CheckID(field, s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return nil
}

func checkOptID(field, s string) error {
	if s == "" {
		return nil
	}
	return checkID(field, s)
}

func checkText(field, s string) error {
	if len(s) > limits.MaxEventTextLen {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidEvent, field, len(s), limits.MaxEventTextLen)
	}
	return nil
}

func checkHexHash(field, s string, optional bool) error {
	if s == "" && optional {
		return nil
	}
	if !isLowerHex64(s) {
		return fmt.Errorf("%w: %s must be 64 lowercase hex digits, got %q", ErrInvalidEvent, field, s)
	}
	return nil
}

// isLowerHex64 reports whether s is 64 lowercase hex digits (what hex
// decodes into 32 bytes and encodes back to s), without allocating.
func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkAll(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (p CapabilityGranted) validate() error { return checkID("granted_by", p.GrantedBy) }

func (p CapabilityRevoked) validate() error {
	return checkAll(checkID("revoked_by", p.RevokedBy), checkText("reason", p.Reason))
}

func (p CapabilityRegistered) validate() error {
	if p.Version != "" {
		if err := capability.ParseVersion(p.Version); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
	}
	if err := p.ID.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	for _, e := range p.Effects {
		if _, err := capability.ParseEffectType(e.String()); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
	}
	return checkHexHash("digest", p.Digest, false)
}

func (p PolicyChanged) validate() error {
	ok := false
	for _, c := range ChangeTypes() {
		ok = ok || c == p.Change
	}
	if !ok {
		return fmt.Errorf("%w: change_type %q (want one of %v)", ErrInvalidEvent, p.Change, ChangeTypes())
	}
	return checkAll(checkID("policy_id", p.PolicyID), checkID("changed_by", p.ChangedBy),
		checkHexHash("policy_hash", p.PolicyHash, true), checkText("version", p.Version))
}

func (p DelegationCreated) validate() error {
	if p.NotAfter < 0 {
		return fmt.Errorf("%w: negative not_after", ErrInvalidEvent)
	}
	return checkAll(checkID("token_id", p.TokenID), checkID("delegator", p.Delegator), checkID("delegate", p.Delegate))
}

func (p DelegationExpired) validate() error { return checkID("token_id", p.TokenID) }

func (p DelegationRevoked) validate() error {
	return checkAll(checkID("token_id", p.TokenID), checkID("revoked_by", p.RevokedBy), checkText("reason", p.Reason))
}

func (m Mode) valid() bool {
	return m == ModeNormal || m == ModeRestricted || m == ModeMaintenance || m == ModeEmergency
}

func (p ModeChanged) validate() error {
	if !p.From.valid() || !p.To.valid() {
		return fmt.Errorf("%w: modes %q -> %q (want normal, restricted, maintenance or emergency)", ErrInvalidEvent, p.From, p.To)
	}
	return checkID("changed_by", p.ChangedBy)
}

func (p SecurityViolation) validate() error {
	if p.Severity.Rank() == 0 {
		return fmt.Errorf("%w: severity %q (want low, medium, high or critical)", ErrInvalidEvent, p.Severity)
	}
	return checkAll(checkID("violation_type", p.ViolationType), checkText("description", p.Description))
}

func (p AuditCheckpoint) validate() error { return checkID("checkpoint_id", p.CheckpointID) }

func (p Checkpoint) validate() error {
	return checkAll(checkHexHash("root", p.Root, false), checkHexHash("policy_hash", p.PolicyHash, true))
}

func (p PrincipalRegistered) validate() error {
	if err := p.Principal.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if len(p.Principal.Metadata) > limits.MaxEventMetadata {
		return fmt.Errorf("%w: principal metadata has %d entries, limit %d", ErrInvalidEvent, len(p.Principal.Metadata), limits.MaxEventMetadata)
	}
	return nil
}

func (p NodeJoined) validate() error {
	if len(p.PublicKey) != ed25519.PublicKeySize || principal.IDOf(p.PublicKey) != p.KeyID {
		return fmt.Errorf("%w: node key_id %q does not match its public key", ErrInvalidEvent, p.KeyID)
	}
	return checkAll(checkID("node_id", p.NodeID), checkText("address", p.Address))
}

func (p NodeLeft) validate() error {
	return checkAll(checkID("node_id", p.NodeID), checkText("reason", p.Reason))
}

func (p HotPathBatch) validate() error {
	if len(p.Shards) > limits.MaxHotPathShards {
		return fmt.Errorf("%w: %d shards, limit %d", ErrInvalidEvent, len(p.Shards), limits.MaxHotPathShards)
	}
	if p.Since < 0 || p.Until < p.Since {
		return fmt.Errorf("%w: hot-path window [%d, %d]", ErrInvalidEvent, p.Since, p.Until)
	}
	var sum uint64
	for _, s := range p.Shards {
		if sum+s.Count < sum {
			return fmt.Errorf("%w: shard counts overflow", ErrInvalidEvent)
		}
		sum += s.Count
	}
	if sum != p.Total {
		return fmt.Errorf("%w: shard counts sum to %d, total says %d", ErrInvalidEvent, sum, p.Total)
	}
	return checkAll(checkID("node_id", p.NodeID), checkHexHash("digest", p.Digest, false),
		validSessions(p.Sessions, p.Total))
}
