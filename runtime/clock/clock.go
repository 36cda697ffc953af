// Package clock is the time source cnv components take as a parameter. No
// component calls time.Now directly outside of System; the FSM and the ledger
// take no clock at all and use the time the leader stamped into a command.
package clock

import "time"

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
