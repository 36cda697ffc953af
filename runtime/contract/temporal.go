package contract

import (
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

// TemporalContract is what a capability promises about time.
type TemporalContract struct {
	Class    DurationClass `json:"class"`
	Deadline DeadlineSpec  `json:"deadline"`
	// Timeout is an explicit timeout; 0 means none, and the class max
	// applies.
	Timeout    time.Duration `json:"timeout"`
	Retry      RetryPolicy   `json:"retry"`
	Idempotent bool          `json:"idempotent"`
}

// IsCompatibleWith reports whether t fits where other is expected: a
// tighter class fits a looser one (t.Class <= other.Class).
func (t TemporalContract) IsCompatibleWith(other TemporalContract) bool {
	return t.Class <= other.Class
}

// EffectiveTimeout is how long an invocation may run before it is
// cancelled: the explicit timeout, or else the class max, lowered to a hard
// deadline when there is one. Soft and must-start-by deadlines do not
// shorten it. It is positive for every valid contract.
func (t TemporalContract) EffectiveTimeout() time.Duration {
	d := t.Timeout
	if d <= 0 {
		d = t.Class.Max()
	}
	if t.Deadline.Kind == HardDeadline && t.Deadline.Duration < d {
		d = t.Deadline.Duration
	}
	return d
}

// Validate checks the class, timeout, deadline and retry policy, and that a
// retry policy is only declared for an idempotent capability (the
// dispatcher retries nothing else).
func (t TemporalContract) Validate() error {
	if !t.Class.Valid() {
		return fmt.Errorf("%w: duration class %d is not set or unknown", ErrInvalidContract, uint8(t.Class))
	}
	if t.Timeout < 0 || t.Timeout > limits.MaxContractDuration {
		return fmt.Errorf("%w: timeout %v outside [0, %v]", ErrInvalidContract, t.Timeout,
			time.Duration(limits.MaxContractDuration))
	}
	if err := t.Deadline.Validate(); err != nil {
		return err
	}
	if err := t.Retry.Validate(); err != nil {
		return err
	}
	if t.Retry.Kind != NoRetry && !t.Idempotent {
		return fmt.Errorf("%w: retry %s requires idempotent: true", ErrInvalidContract, t.Retry.Kind)
	}
	return nil
}
