package hotpath

import (
	"errors"
	"fmt"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Outcome is how an accepted invocation ended. Every accepted invocation
// ends in exactly one outcome and is reported exactly once, to its
// session's sink and in its session's batch digest.
type Outcome uint8

const (
	// OutcomeOK: the handler returned nil within its timeout.
	OutcomeOK Outcome = iota
	// OutcomeFailed: the handler returned an error (after any retries) or
	// panicked.
	OutcomeFailed
	// OutcomeDeadlineExceeded: the invocation ran past its timeout; its
	// context was cancelled.
	OutcomeDeadlineExceeded
	// OutcomeAborted: Stop gave up waiting before the invocation finished,
	// so it was not run (or was cancelled while running).
	OutcomeAborted
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "failed", "deadline_exceeded", "aborted"}

// String returns the snake_case name.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// MarshalText implements encoding.TextMarshaler.
func (o Outcome) MarshalText() ([]byte, error) {
	if o >= numOutcomes {
		return nil, fmt.Errorf("%w: outcome %d", ErrBadSpec, uint8(o))
	}
	return []byte(outcomeNames[o]), nil
}

// Completion reports the end of one invocation to its session's sink.
type Completion struct {
	Seq      uint64
	Outcome  Outcome
	Attempts int
	// Err is the handler's last error, ErrDeadline, ErrAborted or
	// ErrHandlerPanic; nil for OutcomeOK.
	Err error
	// Output is what the handler appended to Call.Out. It is borrowed: valid
	// only during Sink.Complete.
	Output []byte
}

// Retryable reports whether retrying a failed attempt can help: errors
// whose cnverr kind means the request itself is wrong or forbidden
// (InvalidInput, InvalidStructure, PermissionDenied, Unauthenticated,
// NotFound, CommandNotFound, VerbNotFound, GuardExceeded, TooLarge) are not
// retryable, and neither is a deadline overrun; everything else is.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrDeadline) {
		return false
	}
	switch cnverr.KindOf(err) {
	case cnverr.InvalidInput, cnverr.InvalidStructure, cnverr.PermissionDenied,
		cnverr.Unauthenticated, cnverr.NotFound, cnverr.CommandNotFound,
		cnverr.VerbNotFound, cnverr.GuardExceeded, cnverr.TooLarge:
		return false
	}
	return true
}
