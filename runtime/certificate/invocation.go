package certificate

// Certified pairs a verified certificate with the invocation's arguments:
// what a capability handler receives. A handler can only be given a
// Certificate[Verified].
type Certified[T any] struct {
	cert Certificate[Verified]
	args T
}

// Certify wraps args with their certificate.
func Certify[T any](c Certificate[Verified], args T) (Certified[T], error) {
	if !c.Valid() {
		return Certified[T]{}, ErrNotVerified
	}
	return Certified[T]{cert: c, args: args}, nil
}

// Certificate returns the certificate.
func (ci Certified[T]) Certificate() Certificate[Verified] { return ci.cert }

// Args returns the arguments.
func (ci Certified[T]) Args() T { return ci.args }

// Parts returns both.
func (ci Certified[T]) Parts() (Certificate[Verified], T) { return ci.cert, ci.args }
