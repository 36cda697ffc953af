package event

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
)

// jsonEvent is the JSON (API and export) form: the payload under "data",
// its type under "type".
type jsonEvent struct {
	Index       uint64            `json:"index"`
	RaftIndex   uint64            `json:"raft_index"`
	Time        int64             `json:"time"`
	Type        Type              `json:"type"`
	Actor       string            `json:"actor"`
	Tenant      string            `json:"tenant,omitempty"`
	Correlation string            `json:"correlation_id,omitempty"`
	Capability  capability.Path   `json:"capability,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Data        json.RawMessage   `json:"data"`
}

// MarshalJSON renders {"index":…, "type":"PolicyDecision", …, "data":{…}}.
func (e Event) MarshalJSON() ([]byte, error) {
	p := PayloadValue(e.Data)
	if p == nil {
		return nil, fmt.Errorf("%w: no payload", ErrInvalidEvent)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(jsonEvent{
		Index: e.Index, RaftIndex: e.RaftIndex, Time: e.Time, Type: p.EventType(),
		Actor: e.Actor, Tenant: e.Tenant, Correlation: e.Correlation,
		Capability: e.Capability, Metadata: e.Metadata, Data: data,
	})
}

// UnmarshalJSON parses the JSON form strictly: unknown fields are errors.
// It does not validate field rules; Validate (or Append) does.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j jsonEvent
	if err := strictJSON(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrDecode, err)
	}
	p, err := DecodePayloadJSON(j.Type, j.Data)
	if err != nil {
		return err
	}
	*e = Event{
		Index: j.Index, RaftIndex: j.RaftIndex, Time: j.Time, Actor: j.Actor,
		Tenant: j.Tenant, Correlation: j.Correlation, Capability: j.Capability,
		Metadata: j.Metadata, Data: p,
	}
	return nil
}

var payloadDecoders = map[Type]func([]byte) (Payload, error){
	TypeAuditCheckpoint:      decodePayload[AuditCheckpoint],
	TypeCapabilityGranted:    decodePayload[CapabilityGranted],
	TypeCapabilityRegistered: decodePayload[CapabilityRegistered],
	TypeCapabilityRevoked:    decodePayload[CapabilityRevoked],
	TypeCheckpoint:           decodePayload[Checkpoint],
	TypeDelegationCreated:    decodePayload[DelegationCreated],
	TypeDelegationExpired:    decodePayload[DelegationExpired],
	TypeDelegationRevoked:    decodePayload[DelegationRevoked],
	TypeHotPathBatch:         decodePayload[HotPathBatch],
	TypeHotPathLease:         decodePayload[HotPathLease],
	TypeMembershipChanged:    decodePayload[MembershipChanged],
	TypeModeChanged:          decodePayload[ModeChanged],
	TypeNodeJoined:           decodePayload[NodeJoined],
	TypeNodeLeft:             decodePayload[NodeLeft],
	TypePolicyChanged:        decodePayload[PolicyChanged],
	TypePolicyDecision:       decodePayload[PolicyDecision],
	TypePrincipalRegistered:  decodePayload[PrincipalRegistered],
	TypeSecurityViolation:    decodePayload[SecurityViolation],
}

// DecodePayloadJSON decodes the JSON payload of an event of type t
// (strictly: unknown fields are errors).
func DecodePayloadJSON(t Type, data []byte) (Payload, error) {
	dec, ok := payloadDecoders[t]
	if !ok {
		return nil, fmt.Errorf("%w: unknown event type %q", ErrDecode, t)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	return dec(data)
}

func decodePayload[T Payload](data []byte) (Payload, error) {
	var v T
	if err := strictJSON(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrDecode, v.EventType(), err)
	}
	return v, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
