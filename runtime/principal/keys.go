package principal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// KeyID identifies a public key: "k_" + 16 hex digits of SHA-256 over the
// raw 32-byte Ed25519 public key.
type KeyID string

// ErrInvalidKey is returned for key material that cannot be parsed.
var ErrInvalidKey = cnverr.New(cnverr.InvalidInput, "invalid key")

// IDOf returns the key ID of pub.
func IDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	return KeyID("k_" + hex.EncodeToString(sum[:8]))
}

// Generate returns a new key pair read from rand (crypto/rand when nil).
func Generate(r io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	return ed25519.GenerateKey(r)
}

// MarshalPrivatePEM encodes priv as a "PRIVATE KEY" PEM block (PKCS#8).
func MarshalPrivatePEM(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicPEM encodes pub as a "PUBLIC KEY" PEM block (SPKI).
func MarshalPublicPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivatePEM decodes a PKCS#8 "PRIVATE KEY" PEM block holding an
// Ed25519 key.
func ParsePrivatePEM(data []byte) (ed25519.PrivateKey, error) {
	der, err := pemBlock(data, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key (%T)", ErrInvalidKey, k)
	}
	return priv, nil
}

// ParsePublicPEM decodes an SPKI "PUBLIC KEY" PEM block holding an Ed25519
// key.
func ParsePublicPEM(data []byte) (ed25519.PublicKey, error) {
	der, err := pemBlock(data, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key (%T)", ErrInvalidKey, k)
	}
	return pub, nil
}

func pemBlock(data []byte, typ string) ([]byte, error) {
	if len(data) > limits.MaxKeyFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(data), limits.MaxKeyFileBytes)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrInvalidKey)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrInvalidKey, block.Type, typ)
	}
	return block.Bytes, nil
}

// WriteKeyPair writes base+".key" (mode 0600) and base+".pub" (mode 0644),
// creating the directory if needed, and refuses to overwrite an existing
// private key.
func WriteKeyPair(base string, pub ed25519.PublicKey, priv ed25519.PrivateKey) error {
	privPEM, err := MarshalPrivatePEM(priv)
	if err != nil {
		return err
	}
	pubPEM, err := MarshalPublicPEM(pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(base+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if _, err := f.Write(privPEM); err != nil {
		f.Close()
		return fmt.Errorf("write private key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if err := os.WriteFile(base+".pub", pubPEM, 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

// LoadPrivate reads a private key file.
func LoadPrivate(path string) (ed25519.PrivateKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPublic reads a public key file. A private key file is accepted too,
// and its public half returned, so commands that need "a key" take either.
func LoadPublic(path string) (ed25519.PublicKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	if pub, err := ParsePublicPEM(data); err == nil {
		return pub, nil
	}
	priv, err := ParsePrivatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv.Public().(ed25519.PublicKey), nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limits.MaxKeyFileBytes {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrInvalidKey, limits.MaxKeyFileBytes)
	}
	return data, nil
}
