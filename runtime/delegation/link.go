package delegation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Version is the link body version this package writes and accepts.
const Version = 1

// NonceSize is the length of a link's random nonce.
const NonceSize = 16

// signingContext prefixes the body bytes in the signed message, so that a
// link signature can never be taken for a signature over anything else cnv
// signs with the same key.
const signingContext = "cnv/delegation/link/v1\n"

// Body is what the issuer of a link signs.
type Body struct {
	Version     uint8             `json:"version"`
	Nonce       []byte            `json:"nonce"`
	Issuer      ed25519.PublicKey `json:"issuer"`
	IssuerID    principal.KeyID   `json:"issuer_key_id"`
	Audience    ed25519.PublicKey `json:"audience"`
	AudienceID  principal.KeyID   `json:"audience_key_id"`
	Constraints Constraints       `json:"constraints"`
	NotBefore   int64             `json:"not_before"` // Unix ns, inclusive
	NotAfter    int64             `json:"not_after"`  // Unix ns, inclusive
	MaxUses     uint64            `json:"max_uses"`   // 0 = unlimited
	Parent      Hash              `json:"parent"`     // zero for a root link
	Depth       uint8             `json:"depth"`      // 0 for a root link
}

// Validate checks the body's shape on its own: version, nonce and key
// sizes, key IDs derived from the keys, constraints, a non-empty window,
// and depth and parent agreeing (a root has neither).
func (b *Body) Validate() error {
	switch {
	case b.Version != Version:
		return fmt.Errorf("%w: link version %d, want %d", ErrMalformed, b.Version, Version)
	case len(b.Nonce) != NonceSize:
		return fmt.Errorf("%w: nonce is %d bytes, want %d", ErrMalformed, len(b.Nonce), NonceSize)
	case len(b.Issuer) != ed25519.PublicKeySize || len(b.Audience) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: issuer and audience must be %d-byte Ed25519 keys", ErrMalformed, ed25519.PublicKeySize)
	case b.IssuerID != principal.IDOf(b.Issuer):
		return fmt.Errorf("%w: issuer key ID %q does not match the issuer key", ErrMalformed, b.IssuerID)
	case b.AudienceID != principal.IDOf(b.Audience):
		return fmt.Errorf("%w: audience key ID %q does not match the audience key", ErrMalformed, b.AudienceID)
	case b.NotBefore > b.NotAfter:
		return fmt.Errorf("%w: empty validity window: not_before %d is after not_after %d", ErrMalformed, b.NotBefore, b.NotAfter)
	case (b.Depth == 0) != b.Parent.IsZero():
		return fmt.Errorf("%w: depth %d with parent %v: a root link has depth 0 and no parent", ErrMalformed, b.Depth, b.Parent)
	case int(b.Depth) >= limits.MaxChainDepth:
		return fmt.Errorf("%w: depth %d, limit %d links", ErrTooDeep, b.Depth, limits.MaxChainDepth)
	}
	return b.Constraints.Validate()
}

// Narrows checks that b grants nothing parent does not: its constraints
// narrow the parent's, its window lies within the parent's, and its
// max_uses is at most the parent's (any value under an unlimited parent, a
// limited value under a limited one). The error is a *FieldError wrapping
// ErrWidened.
func (b *Body) Narrows(parent *Body) error {
	if err := b.Constraints.Narrows(parent.Constraints); err != nil {
		return err
	}
	switch {
	case b.NotBefore < parent.NotBefore:
		return &FieldError{Field: "not_before", Err: ErrWidened,
			Detail: fmt.Sprintf("%s is before the parent's %s", nanosString(b.NotBefore), nanosString(parent.NotBefore))}
	case b.NotAfter > parent.NotAfter:
		return &FieldError{Field: "not_after", Err: ErrWidened,
			Detail: fmt.Sprintf("%s is after the parent's %s", nanosString(b.NotAfter), nanosString(parent.NotAfter))}
	case parent.MaxUses != 0 && (b.MaxUses == 0 || b.MaxUses > parent.MaxUses):
		return &FieldError{Field: "max_uses", Err: ErrWidened,
			Detail: fmt.Sprintf("%s exceeds the parent's %d", usesString(b.MaxUses), parent.MaxUses)}
	}
	return nil
}

func usesString(n uint64) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

// Link is a signed body. Links are immutable: they are made by Sign, Issue
// or decoding, and keep the exact signed bytes and their hash.
type Link struct {
	body Body
	raw  []byte // canonical encoding of body: what was signed and hashed
	sig  []byte
	hash Hash
}

// Body returns a copy of the link's body.
func (l Link) Body() Body {
	b := l.body
	b.Nonce = append([]byte(nil), b.Nonce...)
	b.Issuer = append(ed25519.PublicKey(nil), b.Issuer...)
	b.Audience = append(ed25519.PublicKey(nil), b.Audience...)
	b.Constraints = b.Constraints.clone()
	return b
}

// Hash returns the link's hash.
func (l Link) Hash() Hash { return l.hash }

// Signature returns a copy of the issuer's signature.
func (l Link) Signature() []byte { return append([]byte(nil), l.sig...) }

// BodyBytes returns a copy of the canonical body encoding that was signed
// and hashed.
func (l Link) BodyBytes() []byte { return append([]byte(nil), l.raw...) }

// IsRoot reports whether the link has no parent.
func (l Link) IsRoot() bool { return l.body.Depth == 0 }

// Sign validates body's shape, encodes it canonically and signs it with
// key, which must be the issuer's. Sign does not check narrowing against a
// parent; Issue does, and so does verification.
func Sign(body Body, key ed25519.PrivateKey) (Link, error) {
	if len(key) != ed25519.PrivateKeySize || !bytes.Equal(key.Public().(ed25519.PublicKey), body.Issuer) {
		return Link{}, fmt.Errorf("%w: the signing key is not the issuer's", ErrMalformed)
	}
	if err := body.Validate(); err != nil {
		return Link{}, err
	}
	raw, err := codec.Marshal(&body)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	l := Link{body: body, raw: raw, sig: ed25519.Sign(key, signedMessage(raw)), hash: sha256.Sum256(raw)}
	if _, err := Encode(l); err != nil {
		return Link{}, err
	}
	return l, nil
}

func signedMessage(raw []byte) []byte {
	msg := make([]byte, 0, len(signingContext)+len(raw))
	return append(append(msg, signingContext...), raw...)
}

// VerifySignature checks the signature under the body's issuer key.
func (l Link) VerifySignature() error {
	if len(l.body.Issuer) != ed25519.PublicKeySize || !ed25519.Verify(l.body.Issuer, signedMessage(l.raw), l.sig) {
		return fmt.Errorf("%w: link %v by %s", ErrBadSignature, l.hash, l.body.IssuerID)
	}
	return nil
}
