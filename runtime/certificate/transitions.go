package certificate

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
)

// CheckPolicy records the policy result. Only an Allow moves the
// certificate on: Deny gives ErrPolicyDenied with the rule's reason, and
// RequireApproval gives ErrApprovalRequired naming the approver (it never
// silently allows).
func CheckPolicy(c Certificate[Unchecked], r policy.Result) (Certificate[PolicyChecked], error) {
	if !c.Valid() {
		return Certificate[PolicyChecked]{}, fmt.Errorf("%w: not an unchecked certificate", ErrInvalid)
	}
	switch r.Decision {
	case policy.Allow:
	case policy.RequireApproval:
		return Certificate[PolicyChecked]{}, fmt.Errorf("%w: from %s (rule %s)", ErrApprovalRequired, r.Approver, r.MatchedRule)
	default:
		return Certificate[PolicyChecked]{}, fmt.Errorf("%w: %s", ErrPolicyDenied, r.Reason)
	}
	trace := Trace{
		PolicyHash:     r.PolicyHash,
		Decision:       r.Decision,
		Reason:         r.Reason,
		EvaluatedRules: append([]string{}, r.EvaluatedRules...),
		MatchedRule:    r.MatchedRule,
	}
	next := advance[Unchecked, PolicyChecked](c)
	next.b.Trace = trace
	return next, nil
}

// Registry tells whether a capability is available to the invoker. The
// cluster implements it over its capability registry and the invoker's
// delegation chain; Available is the simple list form.
type Registry interface {
	// CheckCapability returns nil when the capability (with its version)
	// may be invoked, or an error saying why not.
	CheckCapability(id capability.ID, path capability.Path, level capability.Level) error
}

// Available is a Registry over a fixed list of capability IDs.
type Available []capability.ID

// CheckCapability implements Registry by exact ID equality.
func (a Available) CheckCapability(id capability.ID, _ capability.Path, _ capability.Level) error {
	for _, x := range a {
		if x == id {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrCapabilityNotAvailable, id)
}

// CheckCapability asks reg whether the certificate's capability is
// available at its effect level.
func CheckCapability(c Certificate[PolicyChecked], reg Registry) (Certificate[CapabilityChecked], error) {
	if !c.Valid() {
		return Certificate[CapabilityChecked]{}, fmt.Errorf("%w: not a policy-checked certificate", ErrInvalid)
	}
	level := effectsLevel(c.b.Effects)
	if err := reg.CheckCapability(c.b.CapabilityID, c.b.Capability, level); err != nil {
		return Certificate[CapabilityChecked]{}, err
	}
	return advance[PolicyChecked, CapabilityChecked](c), nil
}

func effectsLevel(ms []capability.Metadata) capability.Level {
	l := capability.LevelReadOnly
	for _, m := range ms {
		if el := m.EffectType.Level(); el > l {
			l = el
		}
	}
	return l
}

// CheckTime reports whether now lies in [issued_at, expires_at]; both ends
// are inclusive.
func checkTime(b *Body, now int64) error {
	if now < b.IssuedAt {
		return fmt.Errorf("%w: issued at %d, now %d", ErrNotYetValid, b.IssuedAt, now)
	}
	if now > b.ExpiresAt {
		return fmt.Errorf("%w: expired at %d, now %d", ErrExpired, b.ExpiresAt, now)
	}
	return nil
}

// Placement ties a certificate to its ledger entry; zero when the decision
// is not (yet) ledgered.
type Placement struct {
	LedgerIndex uint64
	LeafHash    string
}

// Verify checks the time window at now and signs the certificate with
// signer, giving a Certificate[Verified]. The signed bytes include the
// Verified state, the placement and the signer's key ID.
func Verify(c Certificate[CapabilityChecked], now int64, place Placement, signer *Signer) (Certificate[Verified], error) {
	if !c.Valid() {
		return Certificate[Verified]{}, fmt.Errorf("%w: not a capability-checked certificate", ErrInvalid)
	}
	if err := checkTime(c.b, now); err != nil {
		return Certificate[Verified]{}, err
	}
	// Sign a copy: the capability-checked certificate stays usable if
	// signing fails, and a verified body is never shared with another
	// handle.
	b := *c.b
	b.State = StateVerified
	b.LedgerIndex, b.LeafHash = place.LedgerIndex, place.LeafHash
	v := Certificate[Verified]{b: &b}
	if err := signer.sign(&v); err != nil {
		return Certificate[Verified]{}, err
	}
	c.b.State = StateVerified // consumed
	return v, nil
}

// IsValidAt reports whether a verified certificate is within its window.
func (c Certificate[S]) IsValidAt(now int64) bool {
	return c.b != nil && checkTime(c.b, now) == nil
}
