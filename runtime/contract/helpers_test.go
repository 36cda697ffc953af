package contract

import (
	"fmt"
	"time"
)

// Constructors the tests build contracts with.

// UnlimitedResources sets no limit at all (the default).
func UnlimitedResources() ResourceLimits { return ResourceLimits{} }

// StrictResources is 100 MiB of memory, 60s of CPU, 10 file descriptors and
// 5 network connections.
func StrictResources() ResourceLimits {
	return ResourceLimits{
		MaxMemoryBytes:        100 << 20,
		MaxCPUTime:            60 * time.Second,
		MaxFileDescriptors:    10,
		MaxNetworkConnections: 5,
	}
}

// Hard returns a hard deadline of d.
func Hard(d time.Duration) DeadlineSpec { return DeadlineSpec{Kind: HardDeadline, Duration: d} }

// Soft returns a soft deadline of d.
func Soft(d time.Duration) DeadlineSpec { return DeadlineSpec{Kind: SoftDeadline, Duration: d} }

// StartBy returns a must-start-by window of d.
func StartBy(d time.Duration) DeadlineSpec { return DeadlineSpec{Kind: MustStartBy, Duration: d} }

// Exponential returns an exponential policy with the default multiplier and
// no jitter.
func Exponential(maxAttempts uint32, initial, max time.Duration) RetryPolicy {
	return RetryPolicy{Kind: ExponentialBackoff, MaxAttempts: maxAttempts, InitialDelay: initial, MaxDelay: max}
}

// Linear returns a linear policy without a cap.
func Linear(maxAttempts uint32, step time.Duration) RetryPolicy {
	return RetryPolicy{Kind: LinearBackoff, MaxAttempts: maxAttempts, InitialDelay: step}
}

// RetryForever returns an unbounded exponential policy with the default
// multiplier and no jitter.
func RetryForever(initial, max time.Duration) RetryPolicy {
	return RetryPolicy{Kind: Forever, InitialDelay: initial, MaxDelay: max}
}

// ParseJSON decodes and validates one contract in the JSON form.
func ParseJSON(data []byte) (Contract, error) {
	c := Default()
	if isNull(data) {
		return Contract{}, fmt.Errorf("%w: null contract", ErrInvalidContract)
	}
	err := c.UnmarshalJSON(data)
	return c, err
}
