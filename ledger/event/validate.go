package event

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Validate checks every field rule of the event and its payload. Append
// validates each event (after filling in what the ledger derives); callers
// accepting outside events may call it earlier.
func (e *Event) Validate() error {
	p := PayloadValue(e.Data)
	if p == nil {
		return fmt.Errorf("%w: no payload", ErrInvalidEvent)
	}
	if e.Time < 0 {
		return fmt.Errorf("%w: negative time %d", ErrInvalidEvent, e.Time)
	}
	if err := checkAll(checkID("actor", e.Actor), checkOptID("tenant", e.Tenant),
		checkOptID("correlation_id", e.Correlation), e.validCapability(), e.validMetadata()); err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("%s: %w", p.EventType(), err)
	}
	return e.validAgainst(p)
}

func (e *Event) validCapability() error {
	if e.Capability == "" {
		return nil
	}
	if _, err := capability.ParsePath(string(e.Capability)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return nil
}

func (e *Event) validMetadata() error {
	if len(e.Metadata) > limits.MaxEventMetadata {
		return fmt.Errorf("%w: %d metadata entries, limit %d", ErrInvalidEvent, len(e.Metadata), limits.MaxEventMetadata)
	}
	for k, v := range e.Metadata {
		if k == "" || len(k) > limits.MaxArgKeyLen || len(v) > limits.MaxArgValueLen {
			return fmt.Errorf("%w: metadata %q: keys 1 to %d bytes, values up to %d", ErrInvalidEvent, k, limits.MaxArgKeyLen, limits.MaxArgValueLen)
		}
	}
	return nil
}

// validAgainst checks the rules that tie the payload to the event fields.
func (e *Event) validAgainst(p Payload) error {
	switch v := p.(type) {
	case CapabilityGranted, CapabilityRevoked:
		return e.needCapability()
	case CapabilityRegistered:
		if err := e.needCapability(); err != nil {
			return err
		}
		want := capability.FromPath(string(e.Capability))
		if v.Version != "" {
			want = capability.FromPathVersioned(string(e.Capability), v.Version)
		}
		if v.ID != want {
			return fmt.Errorf("%w: capability id %s, want %s for %s", ErrInvalidEvent, v.ID, want, e.Capability)
		}
	case PolicyDecision:
		r := &v.Request
		if e.Capability != r.Capability || e.Actor != r.AgentID || e.Tenant != r.Tenant {
			return fmt.Errorf("%w: event capability/actor/tenant (%s, %s, %s) differ from the request's (%s, %s, %s)",
				ErrInvalidEvent, e.Capability, e.Actor, e.Tenant, r.Capability, r.AgentID, r.Tenant)
		}
	}
	return nil
}

func (e *Event) needCapability() error {
	if e.Capability == "" {
		return fmt.Errorf("%w: %s needs a capability", ErrInvalidEvent, e.Type())
	}
	return nil
}

// fillFromPayload sets empty event fields that a payload determines: a
// PolicyDecision's actor, tenant and capability are its request's.
func (e *Event) fillFromPayload() {
	d, ok := PayloadValue(e.Data).(PolicyDecision)
	if !ok {
		return
	}
	if e.Actor == "" {
		e.Actor = d.Request.AgentID
	}
	if e.Tenant == "" {
		e.Tenant = d.Request.Tenant
	}
	if e.Capability == "" {
		e.Capability = d.Request.Capability
	}
}

// Normalize prepares an event for appending, as the ledger does before it
// validates and encodes: a pointer payload is replaced by its value, and
// the empty event fields its payload determines are filled in (see
// fillFromPayload).
func (e *Event) Normalize() {
	e.Data = PayloadValue(e.Data)
	e.fillFromPayload()
}
