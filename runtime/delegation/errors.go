package delegation

import (
	"errors"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Sentinel errors, one per way a link or a chain can fail. Test with
// errors.Is; FailedField names the field when a constraint or narrowing
// check failed.
var (
	// ErrMalformed: a token, link body or constraint set has a bad shape.
	ErrMalformed = cnverr.New(cnverr.InvalidInput, "malformed delegation")
	// ErrBadSignature: a link's signature does not verify under its issuer.
	ErrBadSignature = cnverr.New(cnverr.Unauthenticated, "delegation link signature is invalid")
	// ErrBrokenChain: links do not connect (audience → next issuer, parent
	// hash, depth), or the last audience is not the invoker.
	ErrBrokenChain = cnverr.New(cnverr.PermissionDenied, "delegation chain is broken")
	// ErrExpired: now is after a link's not_after.
	ErrExpired = cnverr.New(cnverr.PermissionDenied, "delegation expired")
	// ErrNotYetValid: now is before a link's not_before.
	ErrNotYetValid = cnverr.New(cnverr.PermissionDenied, "delegation not yet valid")
	// ErrRevoked: a link of the chain has been revoked.
	ErrRevoked = cnverr.New(cnverr.PermissionDenied, "delegation revoked")
	// ErrUsageLimitExceeded: a link of the chain has used up its max_uses.
	ErrUsageLimitExceeded = cnverr.New(cnverr.PermissionDenied, "delegation usage limit exceeded")
	// ErrNotAllowed: the capability, its noun or its verb is outside the
	// constraints, or the capability is forbidden.
	ErrNotAllowed = cnverr.New(cnverr.PermissionDenied, "capability not allowed by delegation")
	// ErrEffectTooHigh: the capability's effect level is above max_effect.
	ErrEffectTooHigh = cnverr.New(cnverr.PermissionDenied, "effect level above delegation's max_effect")
	// ErrWidened: a link grants more than its parent in some field.
	ErrWidened = cnverr.New(cnverr.PermissionDenied, "delegation widens its parent")
	// ErrTooDeep: the chain is longer than limits.MaxChainDepth.
	ErrTooDeep = cnverr.New(cnverr.InvalidInput, "delegation chain too deep")
	// ErrTooComplex: the chain's effective constraints would exceed
	// limits.MaxEffectivePatterns.
	ErrTooComplex = cnverr.New(cnverr.InvalidInput, "delegation constraints too complex")
)

// FieldError is a failed check on one named field: "allow", "forbid",
// "nouns", "verbs", "max_effect", "not_before", "not_after" or "max_uses".
// It unwraps to its sentinel (ErrNotAllowed, ErrEffectTooHigh, ErrWidened).
type FieldError struct {
	Field  string
	Detail string
	Err    error
}

func (e *FieldError) Error() string { return e.Err.Error() + ": " + e.Field + ": " + e.Detail }

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// FailedField returns the field named by a FieldError in err's chain, or "".
func FailedField(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// reasons maps each sentinel to the short name Reason reports.
var reasons = []struct {
	err  error
	name string
}{
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrBrokenChain, "broken_chain"},
	{ErrBadSignature, "bad_signature"},
	{ErrNotAllowed, "not_allowed"},
	{ErrEffectTooHigh, "effect_too_high"},
	{ErrRevoked, "revoked"},
	{ErrUsageLimitExceeded, "usage_limit_exceeded"},
	{ErrWidened, "widened"},
	{ErrTooDeep, "too_deep"},
	{ErrTooComplex, "too_complex"},
	{ErrMalformed, "malformed"},
}

// Reason returns a short snake_case name for the delegation failure in
// err ("expired", "broken_chain", "not_allowed", "effect_too_high", …), or
// "" when err is nil or not a delegation failure. APIs and the CLI report
// it next to the message.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return ""
}
