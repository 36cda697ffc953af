package contract

import (
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

// ModelKind selects a concurrency model.
type ModelKind uint8

const (
	// Unlimited places no bound on concurrent invocations (the default).
	Unlimited ModelKind = iota
	// SingleTenantExclusive runs at most one invocation per tenant at a time.
	SingleTenantExclusive
	// TenantWideShared runs at most Max invocations per tenant at a time.
	TenantWideShared
	// GlobalShared runs at most Max invocations across all tenants at a
	// time, optionally rate limited to RateLimitRPS starts per second.
	GlobalShared
)

var modelNames = [...]string{"unlimited", "single_tenant_exclusive", "tenant_wide_shared", "global_shared"}

// String returns the snake_case name.
func (k ModelKind) String() string {
	if int(k) < len(modelNames) {
		return modelNames[k]
	}
	return fmt.Sprintf("model(%d)", uint8(k))
}

// ConcurrencyModel bounds how many invocations of a capability run at once.
// The zero value is Unlimited.
type ConcurrencyModel struct {
	Kind ModelKind `json:"kind"`
	// Max is the in-flight bound of TenantWideShared and GlobalShared; zero
	// for the other kinds.
	Max uint32 `json:"max"`
	// RateLimitRPS is GlobalShared's optional start-rate limit; 0 = none.
	RateLimitRPS uint32 `json:"rate_limit_rps"`
}

// SlotsRequired is how many concurrency slots one admission reserves:
// Max for the shared models, 1 otherwise.
func (m ConcurrencyModel) SlotsRequired() uint32 {
	if m.Kind == TenantWideShared || m.Kind == GlobalShared {
		return m.Max
	}
	return 1
}

// Validate checks the kind and that Max and RateLimitRPS are set exactly
// where they mean something.
func (m ConcurrencyModel) Validate() error {
	switch m.Kind {
	case Unlimited, SingleTenantExclusive:
		if m.Max != 0 || m.RateLimitRPS != 0 {
			return fmt.Errorf("%w: concurrency %s takes no max or rate limit", ErrInvalidContract, m.Kind)
		}
	case TenantWideShared, GlobalShared:
		if m.Max == 0 {
			return fmt.Errorf("%w: concurrency %s needs max >= 1", ErrInvalidContract, m.Kind)
		}
		if m.Kind == TenantWideShared && m.RateLimitRPS != 0 {
			return fmt.Errorf("%w: concurrency tenant_wide_shared takes no rate limit", ErrInvalidContract)
		}
	default:
		return fmt.Errorf("%w: unknown concurrency model %d", ErrInvalidContract, uint8(m.Kind))
	}
	return nil
}

// IsolationLevel is the execution isolation a capability requires. The four
// levels are distinct; the zero value is Shared.
type IsolationLevel uint8

const (
	Shared IsolationLevel = iota
	TenantIsolated
	FullyIsolated
	Sandboxed
)

var isolationNames = [...]string{"shared", "tenant_isolated", "fully_isolated", "sandboxed"}

// String returns the snake_case name.
func (l IsolationLevel) String() string {
	if int(l) < len(isolationNames) {
		return isolationNames[l]
	}
	return fmt.Sprintf("isolation(%d)", uint8(l))
}

// MarshalText implements encoding.TextMarshaler (the JSON form).
func (l IsolationLevel) MarshalText() ([]byte, error) {
	if int(l) >= len(isolationNames) {
		return nil, fmt.Errorf("%w: isolation level %d", ErrInvalidContract, uint8(l))
	}
	return []byte(isolationNames[l]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *IsolationLevel) UnmarshalText(b []byte) error {
	for i, n := range isolationNames {
		if n == string(b) {
			*l = IsolationLevel(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown isolation level %q (want one of %v)", ErrInvalidContract, b, isolationNames)
}

// ResourceLimits caps what one invocation may use. Zero in a field means no
// limit.
type ResourceLimits struct {
	MaxMemoryBytes        uint64        `json:"max_memory_bytes"`
	MaxCPUTime            time.Duration `json:"max_cpu_time"`
	MaxFileDescriptors    uint32        `json:"max_file_descriptors"`
	MaxNetworkConnections uint32        `json:"max_network_connections"`
}

// IsUnlimited reports whether no field sets a limit.
func (r ResourceLimits) IsUnlimited() bool { return r == ResourceLimits{} }

// Validate checks the CPU time bound.
func (r ResourceLimits) Validate() error {
	if r.MaxCPUTime < 0 || r.MaxCPUTime > limits.MaxContractDuration {
		return fmt.Errorf("%w: max_cpu_time %v outside [0, %v]", ErrInvalidContract,
			r.MaxCPUTime, time.Duration(limits.MaxContractDuration))
	}
	return nil
}

// ConcurrencyContract is a capability's concurrency model, isolation and
// resource limits. The zero value is Unlimited, Shared, no limits.
type ConcurrencyContract struct {
	Model     ConcurrencyModel `json:"model"`
	Isolation IsolationLevel   `json:"isolation"`
	Limits    ResourceLimits   `json:"limits"`
}

// Validate checks every part.
func (c ConcurrencyContract) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if int(c.Isolation) >= len(isolationNames) {
		return fmt.Errorf("%w: unknown isolation level %d", ErrInvalidContract, uint8(c.Isolation))
	}
	return c.Limits.Validate()
}
