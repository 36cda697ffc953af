package cnverr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error: what went wrong, for callers and for the
// API's status codes (NotFound, Conflict, Unavailable, ResourceExhausted
// and TooLarge are what a replicated service adds to the runtime's own).
type Kind string

const (
	InvalidInput      Kind = "InvalidInput"
	PermissionDenied  Kind = "PermissionDenied"
	InvariantBreach   Kind = "InvariantBreach"
	DeadlineExceeded  Kind = "DeadlineExceeded"
	GuardExceeded     Kind = "GuardExceeded"
	CommandNotFound   Kind = "CommandNotFound"
	VerbNotFound      Kind = "VerbNotFound"
	InvalidStructure  Kind = "InvalidStructure"
	ExecutionError    Kind = "ExecutionError"
	InternalError     Kind = "InternalError"
	NotFound          Kind = "NotFound"
	Conflict          Kind = "Conflict"
	Unavailable       Kind = "Unavailable"
	ResourceExhausted Kind = "ResourceExhausted"
	TooLarge          Kind = "TooLarge"
	Unauthenticated   Kind = "Unauthenticated"
	MethodNotAllowed  Kind = "MethodNotAllowed"
)

// Error is a structured error.
type Error struct {
	Kind    Kind           `json:"kind"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// Err is an optional cause, reachable through errors.Unwrap.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of the given kind with a formatted message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error of the given kind whose cause is err.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// With returns a copy of e with a detail added. Sentinels stay untouched.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// KindOf returns the kind of the first *Error in err's chain, or
// InternalError when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return InternalError
}

// HTTPStatus is the status code the API answers with for a kind.
func HTTPStatus(k Kind) int {
	switch k {
	case InvalidInput, InvalidStructure:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case PermissionDenied, GuardExceeded:
		return http.StatusForbidden
	case NotFound, CommandNotFound, VerbNotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case ResourceExhausted:
		return http.StatusTooManyRequests
	case DeadlineExceeded:
		return http.StatusGatewayTimeout
	case Unavailable:
		return http.StatusServiceUnavailable
	case InvariantBreach, ExecutionError, InternalError:
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

// Render converts any error into the wire form {"kind","message","details"}.
func Render(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := &Error{Kind: e.Kind, Message: err.Error(), Details: e.Details}
		return out
	}
	return &Error{Kind: InternalError, Message: err.Error()}
}
