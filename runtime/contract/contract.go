package contract

import (
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// DefaultVersion is a contract's version when none is given.
const DefaultVersion = "1.0.0"

// DefaultMemoryEstimate is the memory EstimateResources assumes for a
// contract without a memory limit.
const DefaultMemoryEstimate = 1 << 20

// Metadata describes a contract.
type Metadata struct {
	Version      string `json:"version"`
	Experimental bool   `json:"experimental"`
	Description  string `json:"description"`
}

// Contract is a capability's execution contract: temporal promises,
// concurrency and resource bounds, and metadata. Build one from Default()
// (the zero value has no duration class and does not validate).
type Contract struct {
	Temporal    TemporalContract    `json:"temporal"`
	Concurrency ConcurrencyContract `json:"concurrency"`
	Metadata    Metadata            `json:"metadata"`
}

// Default is the contract of a capability that declares none: Interactive,
// no deadline, no timeout beyond the class max, no retry, not idempotent,
// Unlimited concurrency, Shared isolation, no resource limits, version
// 1.0.0.
func Default() Contract {
	return Contract{
		Temporal: TemporalContract{Class: Interactive},
		Metadata: Metadata{Version: DefaultVersion},
	}
}

// Validate checks every part of the contract.
func (c Contract) Validate() error {
	if err := c.Temporal.Validate(); err != nil {
		return err
	}
	if err := c.Concurrency.Validate(); err != nil {
		return err
	}
	return c.Metadata.Validate()
}

// Validate checks the version and the description's length.
func (m Metadata) Validate() error {
	if err := capability.ParseVersion(m.Version); err != nil {
		return fmt.Errorf("%w: metadata version: %v", ErrInvalidContract, err)
	}
	if len(m.Description) > limits.MaxContractDescriptionLen {
		return fmt.Errorf("%w: description is %d bytes, limit %d", ErrInvalidContract,
			len(m.Description), limits.MaxContractDescriptionLen)
	}
	return nil
}

// EffectiveTimeout is Temporal.EffectiveTimeout.
func (c Contract) EffectiveTimeout() time.Duration { return c.Temporal.EffectiveTimeout() }

// AvailableResources is what an executor can offer one more invocation.
type AvailableResources struct {
	TenantSlots          uint32 `json:"tenant_slots"`
	GlobalSlots          uint32 `json:"global_slots"`
	AvailableMemoryBytes uint64 `json:"available_memory_bytes"`
	AvailableCPUPercent  uint8  `json:"available_cpu_percent"`
}

// ResourceEstimate is what one invocation is expected to need.
type ResourceEstimate struct {
	MemoryBytes   uint64        `json:"memory_bytes"`
	CPUTime       time.Duration `json:"cpu_time"`
	SlotsRequired uint32        `json:"slots_required"`
}

// EstimateResources: memory is the memory limit, or DefaultMemoryEstimate
// without one; CPU time is the class's typical duration; slots are the
// concurrency model's SlotsRequired.
func (c Contract) EstimateResources() ResourceEstimate {
	mem := c.Concurrency.Limits.MaxMemoryBytes
	if mem == 0 {
		mem = DefaultMemoryEstimate
	}
	return ResourceEstimate{
		MemoryBytes:   mem,
		CPUTime:       c.Temporal.Class.Typical(),
		SlotsRequired: c.Concurrency.Model.SlotsRequired(),
	}
}

// CanSatisfy reports whether CheckResources accepts a.
func (c Contract) CanSatisfy(a AvailableResources) bool { return c.CheckResources(a) == nil }

// CheckResources checks the concurrency slots the model needs (exclusive:
// one tenant slot; tenant-wide shared N: N tenant slots; global shared N: N
// global slots; unlimited: none) and memory: the
// available memory must cover EstimateResources().MemoryBytes. CPU percent
// and isolation are not checked here (the executor decides them), nor is
// GlobalShared's rate limit (the dispatcher meters it). The error wraps
// ErrInsufficientResources and names what is short.
func (c Contract) CheckResources(a AvailableResources) error {
	m := c.Concurrency.Model
	switch {
	case m.Kind == SingleTenantExclusive && a.TenantSlots == 0:
		return fmt.Errorf("%w: %s needs a free tenant slot, have 0", ErrInsufficientResources, m.Kind)
	case m.Kind == TenantWideShared && a.TenantSlots < m.Max:
		return fmt.Errorf("%w: %s needs %d tenant slots, have %d", ErrInsufficientResources, m.Kind, m.Max, a.TenantSlots)
	case m.Kind == GlobalShared && a.GlobalSlots < m.Max:
		return fmt.Errorf("%w: %s needs %d global slots, have %d", ErrInsufficientResources, m.Kind, m.Max, a.GlobalSlots)
	}
	if need := c.EstimateResources().MemoryBytes; a.AvailableMemoryBytes < need {
		return fmt.Errorf("%w: needs %d bytes of memory, have %d", ErrInsufficientResources, need, a.AvailableMemoryBytes)
	}
	return nil
}
