package delegation

import (
	"encoding/hex"
	"fmt"
)

// Hash identifies a link: SHA-256 over the canonical codec encoding of its
// body (the exact bytes the issuer signed, without the signing context
// prefix). The zero Hash is "no parent" in a root link. Its text and JSON
// form is lowercase hex; its codec form is 32 raw bytes.
type Hash [32]byte

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns the hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("%w: link hash must be %d hex digits, got %d characters", ErrMalformed, 2*len(h), len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("%w: link hash: %v", ErrMalformed, err)
	}
	return h, nil
}
