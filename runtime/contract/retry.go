package contract

import (
	"fmt"
	"math"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

// RetryKind selects a retry policy.
type RetryKind uint8

const (
	// NoRetry: a failed invocation is not retried (the default).
	NoRetry RetryKind = iota
	// ExponentialBackoff: up to MaxAttempts tries, waits growing by
	// Multiplier from InitialDelay, capped at MaxDelay.
	ExponentialBackoff
	// LinearBackoff: up to MaxAttempts tries, the n-th wait is
	// InitialDelay×n, capped at MaxDelay when it is set.
	LinearBackoff
	// Forever: unbounded tries with exponential waits capped at MaxDelay.
	Forever
)

var retryNames = [...]string{"none", "exponential", "linear", "forever"}

// String returns the snake_case name.
func (k RetryKind) String() string {
	if int(k) < len(retryNames) {
		return retryNames[k]
	}
	return fmt.Sprintf("retry(%d)", uint8(k))
}

// DefaultMultiplier is the exponential factor used when Multiplier is zero.
const DefaultMultiplier = 2.0

// RetryPolicy says whether and when a failed idempotent invocation is tried
// again. The zero value is NoRetry. See the package documentation for the
// exact backoff formula.
type RetryPolicy struct {
	Kind RetryKind `json:"kind"`
	// MaxAttempts counts every try, the first included (bounded kinds only).
	MaxAttempts uint32 `json:"max_attempts"`
	// InitialDelay is the first wait (exponential, forever) or the step
	// (linear, written "delay" in JSON).
	InitialDelay time.Duration `json:"initial_delay"`
	// MaxDelay caps a single wait; required for exponential and forever,
	// optional (0 = no cap) for linear.
	MaxDelay time.Duration `json:"max_delay"`
	// Multiplier is the exponential growth factor; 0 means DefaultMultiplier.
	Multiplier float64 `json:"multiplier"`
	// Jitter is the fraction in [0, 1) by which JitteredDelay may shorten a
	// wait.
	Jitter float64 `json:"jitter"`
}

// Delay returns the wait after attempt number attempt (1 = the first try)
// has failed and before attempt+1, and false when no further attempt is
// allowed. It is the un-jittered upper bound of JitteredDelay.
func (p RetryPolicy) Delay(attempt int) (time.Duration, bool) {
	if attempt < 1 || p.Kind == NoRetry {
		return 0, false
	}
	if p.Kind != Forever && uint64(attempt) >= uint64(p.MaxAttempts) {
		return 0, false
	}
	switch p.Kind {
	case ExponentialBackoff, Forever:
		return p.exponential(attempt), true
	case LinearBackoff:
		return p.linear(attempt), true
	}
	return 0, false
}

// JitteredDelay is Delay shortened by a deterministic fraction of up to
// Jitter, drawn from (seed, attempt): the same seed and attempt always give
// the same wait, in (delay×(1−Jitter), delay].
func (p RetryPolicy) JitteredDelay(attempt int, seed uint64) (time.Duration, bool) {
	d, ok := p.Delay(attempt)
	if !ok || p.Jitter <= 0 || d <= 0 {
		return d, ok
	}
	u := float64(splitmix64(seed^uint64(attempt)*0x9e3779b97f4a7c15)>>11) / (1 << 53) // [0, 1)
	return d - time.Duration(float64(d)*p.Jitter*u), true
}

func (p RetryPolicy) exponential(attempt int) time.Duration {
	m := p.Multiplier
	if m == 0 {
		m = DefaultMultiplier
	}
	d := float64(p.InitialDelay) * math.Pow(m, float64(attempt-1))
	if math.IsInf(d, 0) || math.IsNaN(d) || d >= float64(p.MaxDelay) {
		return p.MaxDelay
	}
	return time.Duration(d)
}

func (p RetryPolicy) linear(attempt int) time.Duration {
	ceiling := p.MaxDelay
	if ceiling <= 0 {
		ceiling = limits.MaxContractDuration
	}
	if p.InitialDelay <= 0 {
		return 0
	}
	if uint64(attempt) >= uint64(ceiling/p.InitialDelay) {
		return ceiling
	}
	return p.InitialDelay * time.Duration(attempt)
}

// splitmix64 is the SplitMix64 finaliser: a cheap, well-mixed hash of x.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Validate checks the policy's fields for its kind.
func (p RetryPolicy) Validate() error {
	switch p.Kind {
	case NoRetry:
		if p != (RetryPolicy{}) {
			return fmt.Errorf("%w: retry none takes no parameters", ErrInvalidContract)
		}
		return nil
	case ExponentialBackoff, LinearBackoff, Forever:
	default:
		return fmt.Errorf("%w: unknown retry kind %d", ErrInvalidContract, uint8(p.Kind))
	}
	if err := p.checkAttempts(); err != nil {
		return err
	}
	if err := p.checkDelays(); err != nil {
		return err
	}
	return p.checkFactors()
}

func (p RetryPolicy) checkAttempts() error {
	if p.Kind == Forever {
		if p.MaxAttempts != 0 {
			return fmt.Errorf("%w: retry forever takes no max_attempts", ErrInvalidContract)
		}
		return nil
	}
	if p.MaxAttempts < 1 || p.MaxAttempts > limits.MaxRetryAttempts {
		return fmt.Errorf("%w: retry %s max_attempts %d outside [1, %d] (it counts the first try)",
			ErrInvalidContract, p.Kind, p.MaxAttempts, limits.MaxRetryAttempts)
	}
	return nil
}

func (p RetryPolicy) checkDelays() error {
	if err := checkDuration("retry initial_delay", p.InitialDelay); err != nil {
		return err
	}
	if p.Kind == LinearBackoff && p.MaxDelay == 0 {
		return nil
	}
	if err := checkDuration("retry max_delay", p.MaxDelay); err != nil {
		return err
	}
	if p.MaxDelay < p.InitialDelay {
		return fmt.Errorf("%w: retry max_delay %v is below initial_delay %v", ErrInvalidContract, p.MaxDelay, p.InitialDelay)
	}
	return nil
}

func (p RetryPolicy) checkFactors() error {
	if p.Kind == LinearBackoff && p.Multiplier != 0 {
		return fmt.Errorf("%w: retry linear takes no multiplier", ErrInvalidContract)
	}
	if p.Multiplier != 0 && !(p.Multiplier >= 1 && p.Multiplier <= limits.MaxRetryMultiplier) {
		return fmt.Errorf("%w: retry multiplier %v outside [1, %d]", ErrInvalidContract, p.Multiplier, limits.MaxRetryMultiplier)
	}
	if !(p.Jitter >= 0 && p.Jitter < 1) {
		return fmt.Errorf("%w: retry jitter %v outside [0, 1)", ErrInvalidContract, p.Jitter)
	}
	return nil
}
