package delegation

import (
	"testing"
)

// benchCheck verifies a 3-link chain that the verifier has seen before:
// a chain-cache lookup plus the per-call checks.
func benchCheck(b *testing.B, maxUses uint64) {
	chain := threeHop(b, maxUses)
	v, st := NewVerifier(0), NewMemState()
	st.Revoke(Hash{0xff}) // a non-empty revocation set
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChainCheckCached: no link has max_uses.
func BenchmarkChainCheckCached(b *testing.B) { benchCheck(b, 0) }

// BenchmarkChainCheckCachedLimited: every link has max_uses, so every call
// also reads three use counters.
func BenchmarkChainCheckCachedLimited(b *testing.B) { benchCheck(b, 1<<40) }

// BenchmarkPreparedChainCheck: a caller holding the prepared chain skips
// the cache lookup.
func BenchmarkPreparedChainCheck(b *testing.B) {
	chain := threeHop(b, 0)
	c, err := NewVerifier(0).Prepare(chain)
	if err != nil {
		b.Fatal(err)
	}
	st := NewMemState()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Check(dave.pub, "user.read", ro, t0, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChainCheckCold: a verifier that has seen nothing: three Ed25519
// verifications, linkage, narrowing and the effective constraints.
func BenchmarkChainCheckCold(b *testing.B) {
	chain := threeHop(b, 0)
	st := NewMemState()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewVerifier(1).Verify(chain, dave.pub, "user.read", ro, t0, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCharge: atomically charging all three links of a chain in the
// in-memory state.
func BenchmarkCharge(b *testing.B) {
	chain := threeHop(b, 0)
	st := NewMemState()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Charge(chain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	text, err := Encode(threeHop(b, 0)[2])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(text); err != nil {
			b.Fatal(err)
		}
	}
}
