package certificate

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

// BenchmarkCertificateTransitions: Unchecked → PolicyChecked →
// CapabilityChecked, no signing (the certificate is built once).
func BenchmarkCertificateTransitions(b *testing.B) {
	c, _ := New(params())
	res := allow()
	reg := Available{capability.FromPath("user.create")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.b.State = StateUnchecked // transitions consume; rewind in place
		pc, err := CheckPolicy(c, res)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := CheckCapability(pc, reg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCertificateNew: building the unchecked certificate (one
// canonical encoding and hash for the content-derived ID).
func BenchmarkCertificateNew(b *testing.B) {
	p := params()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := New(p); err != nil {
			b.Fatal(err)
		}
	}
}

func signed(b *testing.B) (Certificate[CapabilityChecked], *Signer, ed25519.PublicKey) {
	s, pub := newSigner(b)
	c, _ := New(params())
	pc, _ := CheckPolicy(c, allow())
	cc, _ := CheckCapability(pc, Available{capability.FromPath("user.create")})
	return cc, s, pub
}

// BenchmarkCertificateSign: Verify (time check + canonical encoding +
// Ed25519 signature). Compare with BenchmarkEd25519Sign.
func BenchmarkCertificateSign(b *testing.B) {
	cc, s, _ := signed(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cc.b.State = StateCapabilityChecked // rewind the consumed input
		if _, err := Verify(cc, t0, Placement{LedgerIndex: uint64(i)}, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCertificateVerify: ImportSigned (decode + trust lookup + Ed25519
// verification + state and time checks). Compare with
// BenchmarkEd25519Verify.
func BenchmarkCertificateVerify(b *testing.B) {
	cc, s, pub := signed(b)
	v, _ := Verify(cc, t0, Placement{}, s)
	exp, _ := v.Export()
	trust := NewTrust(pub)
	if !v.Valid() {
		b.Fatal("setup")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ImportSigned(exp.SignedBytes, exp.Signature, trust, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// Baselines: bare Ed25519 over a message of the certificate's size.
func BenchmarkEd25519Sign(b *testing.B) {
	cc, s, _ := signed(b)
	v, _ := Verify(cc, t0, Placement{}, s)
	exp, _ := v.Export()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ed25519.Sign(s.priv, exp.SignedBytes)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	cc, s, pub := signed(b)
	v, _ := Verify(cc, t0, Placement{}, s)
	exp, _ := v.Export()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ed25519.Verify(pub, exp.SignedBytes, exp.Signature) {
			b.Fatal("verify")
		}
	}
}

func FuzzImport(f *testing.F) {
	pub, priv, _ := principal.Generate(nil)
	s := NewSigner(priv)
	c, _ := New(params())
	pc, _ := CheckPolicy(c, allow())
	cc, _ := CheckCapability(pc, Available{capability.FromPath("user.create")})
	v, _ := Verify(cc, t0, Placement{}, s)
	good, _ := json.Marshal(v)
	f.Add(good)
	f.Add([]byte(`{"signed_bytes":"AAAA","signature":"AAAA"}`))
	trust := NewTrust(pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Import(data, trust, t0)
		if err != nil {
			return
		}
		// Whatever imports is verified, signed by the trusted key, and
		// re-exports to the same signed bytes.
		if !c.Valid() || c.Body().Signer != s.KeyID() {
			t.Fatal("imported an unverified certificate")
		}
		exp, err := c.Export()
		if err != nil || !ed25519.Verify(pub, exp.SignedBytes, exp.Signature) {
			t.Fatal("re-export does not verify")
		}
	})
}
