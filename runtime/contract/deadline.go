package contract

import (
	"fmt"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

// DeadlineKind selects how a deadline binds.
type DeadlineKind uint8

const (
	// NoDeadline: only the timeout (or the class max) applies.
	NoDeadline DeadlineKind = iota
	// HardDeadline: the invocation is cancelled after Duration and reported
	// as DeadlineExceeded; it also caps the effective timeout.
	HardDeadline
	// SoftDeadline: overrunning Duration is recorded but not cancelled.
	SoftDeadline
	// MustStartBy: an invocation not started within Duration of its
	// admission is dropped as DeadlineExceeded.
	MustStartBy
)

var deadlineNames = [...]string{"none", "hard", "soft", "must_start_by"}

// String returns the snake_case name.
func (k DeadlineKind) String() string {
	if int(k) < len(deadlineNames) {
		return deadlineNames[k]
	}
	return fmt.Sprintf("deadline(%d)", uint8(k))
}

// DeadlineSpec is a capability's deadline. The zero value is no deadline.
type DeadlineSpec struct {
	Kind     DeadlineKind  `json:"kind"`
	Duration time.Duration `json:"duration"`
}

// Validate checks the kind and that Duration is positive and bounded exactly
// when there is a deadline.
func (d DeadlineSpec) Validate() error {
	switch {
	case int(d.Kind) >= len(deadlineNames):
		return fmt.Errorf("%w: unknown deadline kind %d", ErrInvalidContract, uint8(d.Kind))
	case d.Kind == NoDeadline && d.Duration != 0:
		return fmt.Errorf("%w: deadline none takes no duration", ErrInvalidContract)
	case d.Kind != NoDeadline:
		return checkDuration("deadline "+d.Kind.String(), d.Duration)
	}
	return nil
}

// checkDuration requires 0 < d <= limits.MaxContractDuration.
func checkDuration(field string, d time.Duration) error {
	if d <= 0 || d > limits.MaxContractDuration {
		return fmt.Errorf("%w: %s %v outside (0, %v]", ErrInvalidContract, field, d,
			time.Duration(limits.MaxContractDuration))
	}
	return nil
}
