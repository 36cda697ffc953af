package checkpoint

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Sentinel errors of signed checkpoints.
var (
	// ErrBadSignature: a signature does not verify under its named key.
	ErrBadSignature = cnverr.New(cnverr.PermissionDenied, "checkpoint signature does not verify")
	// ErrUnknownSigner: a signature names a key that is not in the given
	// verifier set.
	ErrUnknownSigner = cnverr.New(cnverr.PermissionDenied, "checkpoint signed by an unknown key")
	// ErrTextMismatch: two notes being merged sign different bodies.
	ErrTextMismatch = cnverr.New(cnverr.Conflict, "checkpoint notes sign different texts")
	// ErrInvalidKey: a verifier key string or signer key is unusable.
	ErrInvalidKey = cnverr.New(cnverr.InvalidInput, "invalid checkpoint key")
)

// algEd25519 is the note format's algorithm byte for Ed25519 keys.
const algEd25519 = 1

// Signer is a note.Signer over an Ed25519 node key.
type Signer struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

var _ note.Signer = (*Signer)(nil)

// KeyName is the note key name cnv uses for a node key: its key ID
// ("k_" + 16 hex digits), which is a valid note name.
func KeyName(pub ed25519.PublicKey) string { return string(principal.IDOf(pub)) }

// NewSigner returns a signer for priv under name (KeyName of its public key
// when name is empty).
func NewSigner(name string, priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d bytes", ErrInvalidKey, len(priv))
	}
	pub := priv.Public().(ed25519.PublicKey)
	if name == "" {
		name = KeyName(pub)
	}
	if _, err := note.NewEd25519VerifierKey(name, pub); err != nil || !validName(name) {
		return nil, fmt.Errorf("%w: key name %q", ErrInvalidKey, name)
	}
	return &Signer{name: name, hash: keyHash(name, pub), priv: priv}, nil
}

// keyHash is the note format's key hash for an Ed25519 key: the first four
// bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key).
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name returns the key name.
func (s *Signer) Name() string { return s.name }

// KeyHash returns the note key hash.
func (s *Signer) KeyHash() uint32 { return s.hash }

// Sign signs msg with the Ed25519 key.
func (s *Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// VerifierKey returns the signer's verifier key string.
func (s *Signer) VerifierKey() string {
	k, _ := note.NewEd25519VerifierKey(s.name, s.priv.Public().(ed25519.PublicKey))
	return k
}

// VerifierKey returns the note verifier key string ("name+hash+base64") for
// an Ed25519 public key.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	k, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return k, nil
}

func validName(name string) bool {
	for _, r := range name {
		if r <= ' ' || r == '+' {
			return false
		}
	}
	return name != ""
}

// Sign returns a note signing text by every signer, signatures in canonical
// order.
func Sign(text string, signers ...note.Signer) ([]byte, error) {
	if _, err := Parse(text); err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return Merge(msg)
}

// Cosign adds the signers' signatures to a signed note.
func Cosign(signed []byte, signers ...note.Signer) ([]byte, error) {
	n, err := split(signed)
	if err != nil {
		return nil, err
	}
	fresh, err := Sign(n.Text, signers...)
	if err != nil {
		return nil, err
	}
	return Merge(signed, fresh)
}

// Merge combines notes over the same text into one note carrying every
// distinct signature, sorted by key name and hash so that the result does
// not depend on the order signatures arrived in. Signatures are not
// verified here; Open does that.
func Merge(notes ...[]byte) ([]byte, error) {
	if len(notes) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrMalformed)
	}
	var text string
	byKey := map[sigKey]note.Signature{}
	for i, m := range notes {
		n, err := split(m)
		if err != nil {
			return nil, err
		}
		if i > 0 && n.Text != text {
			return nil, ErrTextMismatch
		}
		text = n.Text
		for _, s := range n.UnverifiedSigs {
			k := sigKey{s.Name, s.Hash}
			if _, dup := byKey[k]; !dup {
				byKey[k] = s
			}
		}
	}
	return render(text, byKey)
}

func render(text string, byKey map[sigKey]note.Signature) ([]byte, error) {
	sigs := make([]note.Signature, 0, len(byKey))
	for _, s := range byKey {
		sigs = append(sigs, s)
	}
	if len(sigs) > limits.MaxCheckpointSigners {
		return nil, fmt.Errorf("%w: %d signatures, limit %d", ErrMalformed, len(sigs), limits.MaxCheckpointSigners)
	}
	sort.Slice(sigs, func(i, j int) bool {
		if sigs[i].Name != sigs[j].Name {
			return sigs[i].Name < sigs[j].Name
		}
		return sigs[i].Hash < sigs[j].Hash
	})
	out, err := note.Sign(&note.Note{Text: text, Sigs: sigs})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return out, nil
}

// sigKey identifies a signature's key as the note format does.
type sigKey struct {
	name string
	hash uint32
}

// split parses a note without verifying it: every signature comes back in
// UnverifiedSigs.
func split(signed []byte) (*note.Note, error) {
	if len(signed) > limits.MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: note is %d bytes, limit %d", ErrMalformed, len(signed), limits.MaxCheckpointBytes)
	}
	_, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := Parse(unverified.Note.Text); err != nil {
		return nil, err
	}
	return unverified.Note, nil
}
