package certificate

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Domain separates certificate signatures from every other signature made
// with the same node key.
const Domain = "cnv-certificate-v1"

// signedEnvelope is what is signed: the domain and the body.
type signedEnvelope struct {
	Domain string `json:"domain"`
	Body   *Body  `json:"body"`
}

// Signer signs certificates with a node key.
type Signer struct {
	priv  ed25519.PrivateKey
	keyID principal.KeyID
}

// NewSigner returns a signer for priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, keyID: principal.IDOf(priv.Public().(ed25519.PublicKey))}
}

// KeyID is the signer's key ID.
func (s *Signer) KeyID() principal.KeyID { return s.keyID }

func (s *Signer) sign(c *Certificate[Verified]) error {
	if s == nil {
		return fmt.Errorf("%w: no signer", ErrInvalid)
	}
	c.b.Signer = s.keyID
	msg, err := marshalEnvelope(c.b)
	if err != nil {
		return err
	}
	c.signed = msg
	c.sig = ed25519.Sign(s.priv, msg)
	return nil
}

// Trust is the set of node keys whose certificates are accepted.
type Trust map[principal.KeyID]ed25519.PublicKey

// NewTrust builds a trust set from public keys.
func NewTrust(keys ...ed25519.PublicKey) Trust {
	t := make(Trust, len(keys))
	for _, k := range keys {
		t[principal.IDOf(k)] = k
	}
	return t
}

// Signed is the wire form of a verified certificate. SignedBytes and
// Signature are what a verifier checks (Ed25519 over SignedBytes); the
// Certificate field is a readable copy of the body decoded from them.
type Signed struct {
	Certificate Body            `json:"certificate"`
	SignedBytes []byte          `json:"signed_bytes"`
	Signature   []byte          `json:"signature"`
	Signer      principal.KeyID `json:"signer"`
}

// Export returns the wire form.
func (c Certificate[S]) Export() (Signed, error) {
	if c.b == nil || c.b.State != StateVerified || c.sig == nil {
		return Signed{}, ErrNotVerified
	}
	return Signed{Certificate: c.Body(), SignedBytes: c.signed, Signature: c.sig, Signer: c.b.Signer}, nil
}

// MarshalJSON renders a verified certificate in its wire form; JSON encodes
// the byte fields as base64.
func (c Certificate[S]) MarshalJSON() ([]byte, error) {
	s, err := c.Export()
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Import verifies a wire-form certificate: size limit, the signer is in
// trust, the Ed25519 signature over the signed bytes, the signed state is
// Verified, and now is within the window. Only the signed bytes are
// believed; the readable copy is ignored.
func Import(data []byte, trust Trust, now int64) (Certificate[Verified], error) {
	if len(data) > limits.MaxCertificateBytes {
		return Certificate[Verified]{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(data), limits.MaxCertificateBytes)
	}
	var s Signed
	if err := json.Unmarshal(data, &s); err != nil {
		return Certificate[Verified]{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return ImportSigned(s.SignedBytes, s.Signature, trust, now)
}

// ImportSigned is Import for the raw signed bytes and signature.
func ImportSigned(signed, sig []byte, trust Trust, now int64) (Certificate[Verified], error) {
	var env signedEnvelope
	if err := codec.UnmarshalLimit(signed, limits.MaxCertificateBytes, &env); err != nil {
		return Certificate[Verified]{}, fmt.Errorf("%w: signed bytes: %v", ErrInvalid, err)
	}
	if env.Domain != Domain || env.Body == nil {
		return Certificate[Verified]{}, fmt.Errorf("%w: not a cnv certificate", ErrInvalid)
	}
	pub, ok := trust[env.Body.Signer]
	if !ok {
		return Certificate[Verified]{}, fmt.Errorf("%w: %q", ErrUntrustedSigner, env.Body.Signer)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, signed, sig) {
		return Certificate[Verified]{}, ErrBadSignature
	}
	if env.Body.State != StateVerified {
		return Certificate[Verified]{}, fmt.Errorf("%w: signed in state %s", ErrNotVerified, env.Body.State)
	}
	if err := checkTime(env.Body, now); err != nil {
		return Certificate[Verified]{}, err
	}
	return Certificate[Verified]{b: env.Body, signed: append([]byte(nil), signed...), sig: append([]byte(nil), sig...)}, nil
}

func marshalEnvelope(b *Body) ([]byte, error) {
	return codec.Marshal(signedEnvelope{Domain: Domain, Body: b})
}
