package delegation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/pem"
	"fmt"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// PEMType is the PEM block type of a token file.
const PEMType = "CNV DELEGATION LINK"

// envelope is the transport form of a link: the exact signed body bytes and
// the signature.
type envelope struct {
	Body []byte `json:"body"`
	Sig  []byte `json:"sig"`
}

// MarshalBinary returns the link's canonical transport encoding (the codec
// form of {body, sig}). Links embedded in other codec structures use it.
func (l Link) MarshalBinary() ([]byte, error) {
	if l.raw == nil {
		return nil, fmt.Errorf("%w: empty link", ErrMalformed)
	}
	return codec.Marshal(envelope{Body: l.raw, Sig: l.sig})
}

// UnmarshalBinary decodes what MarshalBinary wrote (see DecodeBinary).
func (l *Link) UnmarshalBinary(data []byte) error {
	v, err := DecodeBinary(data)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// DecodeBinary decodes a link's transport encoding and checks its shape: at
// most limits.MaxTokenBytes, a body in its one canonical encoding that
// passes Body.Validate, and a signature of the right size. It does not
// verify the signature.
func DecodeBinary(data []byte) (Link, error) {
	var env envelope
	if err := codec.UnmarshalLimit(data, limits.MaxTokenBytes, &env); err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var body Body
	if err := codec.Unmarshal(env.Body, &body); err != nil {
		return Link{}, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	again, err := codec.Marshal(&body)
	if err != nil || !bytes.Equal(again, env.Body) {
		return Link{}, fmt.Errorf("%w: body is not in canonical encoding", ErrMalformed)
	}
	if err := body.Validate(); err != nil {
		return Link{}, err
	}
	if len(env.Sig) != ed25519.SignatureSize {
		return Link{}, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(env.Sig), ed25519.SignatureSize)
	}
	// env owns fresh buffers (the codec copies out of data), so the link's
	// bytes are shared with nobody.
	return Link{body: body, raw: env.Body, sig: env.Sig, hash: sha256.Sum256(env.Body)}, nil
}

// Encode returns the token file form: a PEM block of type PEMType around the
// transport encoding.
func Encode(l Link) ([]byte, error) {
	b, err := l.MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: PEMType, Bytes: b})
	if len(out) > limits.MaxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, limit %d", ErrMalformed, len(out), limits.MaxTokenBytes)
	}
	return out, nil
}

// Decode parses a token file: exactly one PEM block of type PEMType without
// headers, nothing but white space around it, at most limits.MaxTokenBytes
// in all. It checks the link's shape (DecodeBinary), not its signature.
func Decode(data []byte) (Link, error) {
	if len(data) > limits.MaxTokenBytes {
		return Link{}, fmt.Errorf("%w: token is %d bytes, limit %d", ErrMalformed, len(data), limits.MaxTokenBytes)
	}
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return Link{}, fmt.Errorf("%w: no %q PEM block", ErrMalformed, PEMType)
	case block.Type != PEMType:
		return Link{}, fmt.Errorf("%w: PEM block is %q, want %q", ErrMalformed, block.Type, PEMType)
	case len(block.Headers) != 0:
		return Link{}, fmt.Errorf("%w: PEM headers are not allowed", ErrMalformed)
	case len(bytes.TrimSpace(rest)) != 0:
		return Link{}, fmt.Errorf("%w: trailing data after the PEM block", ErrMalformed)
	}
	return DecodeBinary(block.Bytes)
}

// MarshalText is Encode (the JSON form of a link is its token text).
func (l Link) MarshalText() ([]byte, error) { return Encode(l) }

// UnmarshalText is Decode.
func (l *Link) UnmarshalText(data []byte) error {
	v, err := Decode(data)
	if err != nil {
		return err
	}
	*l = v
	return nil
}
