// Package clock is the time source cnv components take as a parameter. No
// component calls time.Now directly outside of System; the FSM and the ledger
// take no clock at all and use the time the leader stamped into a command.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the wall clock, optionally shifted by a fixed offset (used by the
// fault-injection harness to skew one node's clock).
type System struct {
	Offset time.Duration
}

// Now returns the wall-clock time plus the offset.
func (s System) Now() time.Time { return time.Now().Add(s.Offset) }

// Fake is a manually advanced clock for tests. It is safe for concurrent use.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake returns a Fake set to t.
func NewFake(t time.Time) *Fake { return &Fake{t: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// Set sets the fake time.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}
