package contract

import (
	"fmt"
	"time"
)

// DurationClass is the expected running time of a capability. Classes are
// ordered FastPath < Interactive < UserInitiated < Batch < LongRunning. The
// zero value is not a class: Validate rejects it, and Default() uses
// Interactive.
type DurationClass uint8

const (
	FastPath DurationClass = iota + 1
	Interactive
	UserInitiated
	Batch
	LongRunning
)

type classInfo struct {
	name         string
	typical, max time.Duration
}

var classes = [...]classInfo{
	FastPath:      {"fast_path", 100 * time.Microsecond, time.Millisecond},
	Interactive:   {"interactive", 100 * time.Millisecond, 500 * time.Millisecond},
	UserInitiated: {"user_initiated", 5 * time.Second, 30 * time.Second},
	Batch:         {"batch", 300 * time.Second, 1800 * time.Second},
	LongRunning:   {"long_running", 3600 * time.Second, 86400 * time.Second},
}

// AllClasses lists the classes in order.
func AllClasses() []DurationClass {
	return []DurationClass{FastPath, Interactive, UserInitiated, Batch, LongRunning}
}

// Valid reports whether c is one of the five classes.
func (c DurationClass) Valid() bool { return c >= FastPath && c <= LongRunning }

// Typical is the class's typical running time (0 for an invalid class).
func (c DurationClass) Typical() time.Duration {
	if !c.Valid() {
		return 0
	}
	return classes[c].typical
}

// Max is the longest running time the class allows (0 for an invalid class).
func (c DurationClass) Max() time.Duration {
	if !c.Valid() {
		return 0
	}
	return classes[c].max
}

// MeetsDeadline reports whether every invocation of the class finishes
// within d: the class max is at most d.
func (c DurationClass) MeetsDeadline(d time.Duration) bool {
	return c.Valid() && c.Max() <= d
}

// String returns the snake_case name.
func (c DurationClass) String() string {
	if !c.Valid() {
		return fmt.Sprintf("class(%d)", uint8(c))
	}
	return classes[c].name
}

// ParseClass parses a snake_case class name.
func ParseClass(s string) (DurationClass, error) {
	for _, c := range AllClasses() {
		if classes[c].name == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown duration class %q (want fast_path, interactive, user_initiated, batch or long_running)",
		ErrInvalidContract, s)
}

// MarshalText implements encoding.TextMarshaler (the JSON form).
func (c DurationClass) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("%w: duration class %d", ErrInvalidContract, uint8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *DurationClass) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
