package principal

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyPEMRoundTrip(t *testing.T) {
	pub, priv, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	pp, _ := MarshalPrivatePEM(priv)
	pu, _ := MarshalPublicPEM(pub)
	priv2, err := ParsePrivatePEM(pp)
	if err != nil || !priv2.Equal(priv) {
		t.Fatalf("private round trip: %v", err)
	}
	pub2, err := ParsePublicPEM(pu)
	if err != nil || !pub2.Equal(pub) {
		t.Fatalf("public round trip: %v", err)
	}
	if _, err := ParsePublicPEM(pp); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("private PEM parsed as public: %v", err)
	}
	if _, err := ParsePrivatePEM([]byte("junk")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("junk: %v", err)
	}
}

func TestKeyID(t *testing.T) {
	pub := ed25519.PublicKey(bytes.Repeat([]byte{0}, 32))
	// k_ + first 8 bytes of SHA-256(32 zero bytes).
	if got := IDOf(pub); got != "k_66687aadf862bd77" {
		t.Errorf("IDOf(zero key) = %s", got)
	}
}

func TestWriteLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "sub", "alice")
	pub, priv, _ := Generate(nil)
	if err := WriteKeyPair(base, pub, priv); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(base, pub, priv); err == nil {
		t.Error("overwrote an existing private key")
	}
	st, err := os.Stat(base + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v %v", st.Mode(), err)
	}
	p2, err := LoadPrivate(base + ".key")
	if err != nil || !p2.Equal(priv) {
		t.Fatal(err)
	}
	u2, err := LoadPublic(base + ".pub")
	if err != nil || !u2.Equal(pub) {
		t.Fatal(err)
	}
	u3, err := LoadPublic(base + ".key")
	if err != nil || !u3.Equal(pub) {
		t.Fatal("public half of a private key file", err)
	}
	big := filepath.Join(dir, "big.pub")
	os.WriteFile(big, bytes.Repeat([]byte("A"), 20000), 0o644)
	if _, err := LoadPublic(big); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("oversize key file: %v", err)
	}
}

// The key files must be readable by openssl, which is what operators use.
func TestOpenSSLReadsKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "k")
	pub, priv, _ := Generate(nil)
	if err := WriteKeyPair(base, pub, priv); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkey", "-in", base+".key", "-pubout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkey: %v %s", err, out)
	}
	want, _ := os.ReadFile(base + ".pub")
	if strings.TrimSpace(string(out)) != strings.TrimSpace(string(want)) {
		t.Errorf("openssl derived\n%s\nwe wrote\n%s", out, want)
	}
	if out, err := exec.Command("openssl", "pkey", "-pubin", "-in", base+".pub", "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey -pubin: %v %s", err, out)
	}
}

func TestPrincipalValidate(t *testing.T) {
	pub, _, _ := Generate(nil)
	p := New(pub, "alice", Human, "")
	if p.Tenant != DefaultTenant {
		t.Error("default tenant")
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.KeyID = "k_0000000000000000"
	if err := bad.Validate(); !errors.Is(err, ErrInvalidPrincipal) {
		t.Errorf("mismatched key id: %v", err)
	}
	bad = p
	bad.AgentType = "robot"
	if err := bad.Validate(); err == nil {
		t.Error("unknown agent type accepted")
	}
	bad = p
	bad.AgentID = "has space"
	if err := bad.Validate(); err == nil {
		t.Error("agent id with space accepted")
	}
}

func FuzzParseKeys(f *testing.F) {
	pub, priv, _ := Generate(nil)
	pp, _ := MarshalPrivatePEM(priv)
	pu, _ := MarshalPublicPEM(pub)
	f.Add(pp)
	f.Add(pu)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePrivatePEM(data); err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("private key of %d bytes", len(k))
		}
		if k, err := ParsePublicPEM(data); err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes", len(k))
		}
	})
}
