package event

import (
	"fmt"
	"reflect"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Event is one ledger entry.
//
// Index, RaftIndex and the derived fields of checkpoint payloads are
// assigned by the ledger on append. Time is the caller's (the leader's
// stamp), in Unix nanoseconds; the ledger keeps times non-decreasing.
type Event struct {
	// Index is the event's position, dense from 0.
	Index uint64 `json:"index"`
	// RaftIndex is the Raft log index of the entry that carried the event
	// (0 for events appended outside a cluster).
	RaftIndex uint64 `json:"raft_index"`
	// Time is the committed timestamp in Unix nanoseconds.
	Time int64 `json:"time"`
	// Actor is the agent, principal or node the event is about.
	Actor       string            `json:"actor"`
	Tenant      string            `json:"tenant,omitempty"`
	Correlation string            `json:"correlation_id,omitempty"`
	Capability  capability.Path   `json:"capability,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Data is the typed payload; its type is the event's type.
	Data Payload `json:"data"`
}

// Type is the event's type, the type of its payload ("" when Data is nil).
func (e *Event) Type() Type {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// Decision is the policy decision of a PolicyDecision event ("" for other
// types).
func (e *Event) Decision() string {
	if d, ok := e.Data.(PolicyDecision); ok {
		return string(d.Result.Decision)
	}
	return ""
}

// wireEvent is the stored and hashed form: canonical msgpack of this struct.
// Exactly one field of Data is set, the one named by Type.
type wireEvent struct {
	Index       uint64            `json:"index"`
	RaftIndex   uint64            `json:"raft_index"`
	Time        int64             `json:"time"`
	Type        Type              `json:"type"`
	Actor       string            `json:"actor"`
	Tenant      string            `json:"tenant,omitempty"`
	Correlation string            `json:"correlation_id,omitempty"`
	Capability  capability.Path   `json:"capability,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Data        wireData          `json:"data"`
}

type wireData struct {
	AuditCheckpoint      *AuditCheckpoint      `json:"audit_checkpoint,omitempty"`
	CapabilityGranted    *CapabilityGranted    `json:"capability_granted,omitempty"`
	CapabilityRegistered *CapabilityRegistered `json:"capability_registered,omitempty"`
	CapabilityRevoked    *CapabilityRevoked    `json:"capability_revoked,omitempty"`
	Checkpoint           *Checkpoint           `json:"checkpoint,omitempty"`
	DelegationCreated    *DelegationCreated    `json:"delegation_created,omitempty"`
	DelegationExpired    *DelegationExpired    `json:"delegation_expired,omitempty"`
	DelegationRevoked    *DelegationRevoked    `json:"delegation_revoked,omitempty"`
	HotPathBatch         *HotPathBatch         `json:"hot_path_batch,omitempty"`
	HotPathLease         *HotPathLease         `json:"hot_path_lease,omitempty"`
	MembershipChanged    *MembershipChanged    `json:"membership_changed,omitempty"`
	ModeChanged          *ModeChanged          `json:"mode_changed,omitempty"`
	NodeJoined           *NodeJoined           `json:"node_joined,omitempty"`
	NodeLeft             *NodeLeft             `json:"node_left,omitempty"`
	PolicyChanged        *PolicyChanged        `json:"policy_changed,omitempty"`
	PolicyDecision       *PolicyDecision       `json:"policy_decision,omitempty"`
	PrincipalRegistered  *PrincipalRegistered  `json:"principal_registered,omitempty"`
	SecurityViolation    *SecurityViolation    `json:"security_violation,omitempty"`
}

// set stores p (a payload value) in its slot.
func (d *wireData) set(p Payload) error {
	switch v := p.(type) {
	case AuditCheckpoint:
		d.AuditCheckpoint = &v
	case CapabilityGranted:
		d.CapabilityGranted = &v
	case CapabilityRegistered:
		d.CapabilityRegistered = &v
	case CapabilityRevoked:
		d.CapabilityRevoked = &v
	case Checkpoint:
		d.Checkpoint = &v
	case DelegationCreated:
		d.DelegationCreated = &v
	case DelegationExpired:
		d.DelegationExpired = &v
	case DelegationRevoked:
		d.DelegationRevoked = &v
	case HotPathBatch:
		d.HotPathBatch = &v
	case HotPathLease:
		d.HotPathLease = &v
	case MembershipChanged:
		d.MembershipChanged = &v
	case ModeChanged:
		d.ModeChanged = &v
	case NodeJoined:
		d.NodeJoined = &v
	case NodeLeft:
		d.NodeLeft = &v
	case PolicyChanged:
		d.PolicyChanged = &v
	case PolicyDecision:
		d.PolicyDecision = &v
	case PrincipalRegistered:
		d.PrincipalRegistered = &v
	case SecurityViolation:
		d.SecurityViolation = &v
	default:
		return fmt.Errorf("%w: payload type %T", ErrInvalidEvent, p)
	}
	return nil
}

// get returns the one payload stored in d.
func (d *wireData) get() (Payload, error) {
	var out Payload
	n := 0
	if d.AuditCheckpoint != nil {
		out, n = *d.AuditCheckpoint, n+1
	}
	if d.CapabilityGranted != nil {
		out, n = *d.CapabilityGranted, n+1
	}
	if d.CapabilityRegistered != nil {
		out, n = *d.CapabilityRegistered, n+1
	}
	if d.CapabilityRevoked != nil {
		out, n = *d.CapabilityRevoked, n+1
	}
	if d.Checkpoint != nil {
		out, n = *d.Checkpoint, n+1
	}
	if d.DelegationCreated != nil {
		out, n = *d.DelegationCreated, n+1
	}
	if d.DelegationExpired != nil {
		out, n = *d.DelegationExpired, n+1
	}
	if d.DelegationRevoked != nil {
		out, n = *d.DelegationRevoked, n+1
	}
	if d.HotPathBatch != nil {
		out, n = *d.HotPathBatch, n+1
	}
	if d.HotPathLease != nil {
		out, n = *d.HotPathLease, n+1
	}
	if d.MembershipChanged != nil {
		out, n = *d.MembershipChanged, n+1
	}
	if d.ModeChanged != nil {
		out, n = *d.ModeChanged, n+1
	}
	if d.NodeJoined != nil {
		out, n = *d.NodeJoined, n+1
	}
	if d.NodeLeft != nil {
		out, n = *d.NodeLeft, n+1
	}
	if d.PolicyChanged != nil {
		out, n = *d.PolicyChanged, n+1
	}
	if d.PolicyDecision != nil {
		out, n = *d.PolicyDecision, n+1
	}
	if d.PrincipalRegistered != nil {
		out, n = *d.PrincipalRegistered, n+1
	}
	if d.SecurityViolation != nil {
		out, n = *d.SecurityViolation, n+1
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: %d payloads, want 1", ErrDecode, n)
	}
	return out, nil
}

// PayloadValue returns p as a value, dereferencing a pointer payload (nil
// for a nil pointer). Events hold their payloads as values; the ledger
// accepts either.
func PayloadValue(p Payload) Payload {
	if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		return v.Elem().Interface().(Payload)
	}
	return p
}

func (e *Event) toWire() (*wireEvent, error) {
	p := PayloadValue(e.Data)
	if p == nil {
		return nil, fmt.Errorf("%w: no payload", ErrInvalidEvent)
	}
	w := &wireEvent{
		Index: e.Index, RaftIndex: e.RaftIndex, Time: e.Time, Type: p.EventType(),
		Actor: e.Actor, Tenant: e.Tenant, Correlation: e.Correlation,
		Capability: e.Capability, Metadata: e.Metadata,
	}
	if err := w.Data.set(p); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *wireEvent) toEvent() (Event, error) {
	p, err := w.Data.get()
	if err != nil {
		return Event{}, err
	}
	if p.EventType() != w.Type {
		return Event{}, fmt.Errorf("%w: type %q carries a %s payload", ErrDecode, w.Type, p.EventType())
	}
	return Event{
		Index: w.Index, RaftIndex: w.RaftIndex, Time: w.Time, Actor: w.Actor,
		Tenant: w.Tenant, Correlation: w.Correlation, Capability: w.Capability,
		Metadata: w.Metadata, Data: p,
	}, nil
}

// MarshalCanonical returns the event's canonical msgpack form: the bytes the
// ledger stores and hashes. It does not validate the event.
func (e *Event) MarshalCanonical() ([]byte, error) { return e.AppendCanonical(nil) }

// AppendCanonical appends the event's canonical form to dst.
func (e *Event) AppendCanonical(dst []byte) ([]byte, error) {
	start := len(dst)
	out, done := dst, false
	switch d := e.Data.(type) {
	case PolicyDecision:
		out, done = appendDecision(dst, e, &d)
	case *PolicyDecision:
		if d != nil {
			out, done = appendDecision(dst, e, d)
		}
	}
	if !done {
		b, err := e.marshalCodec()
		if err != nil {
			return dst, err
		}
		out = append(dst, b...)
	}
	if n := len(out) - start; n > limits.MaxEventBytes {
		return dst, fmt.Errorf("%w: encoded event is %d bytes, limit %d", ErrInvalidEvent, n, limits.MaxEventBytes)
	}
	return out, nil
}

// marshalCodec encodes the wireEvent through runtime/codec (reflection):
// every event the hand-written encoder does not cover, and the reference
// it is tested against.
func (e *Event) marshalCodec() ([]byte, error) {
	w, err := e.toWire()
	if err != nil {
		return nil, err
	}
	b, err := codec.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return b, nil
}

// UnmarshalEvent decodes an event's canonical form. It checks the shape
// (one payload, matching its type) but not the field rules; Validate does.
func UnmarshalEvent(b []byte) (Event, error) {
	var w wireEvent
	if err := codec.UnmarshalLimit(b, limits.MaxEventBytes, &w); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return w.toEvent()
}
