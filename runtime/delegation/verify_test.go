package delegation

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/principal"
)

const (
	ro  = capability.LevelReadOnly
	mut = capability.LevelMutate
)

func TestDirectChain(t *testing.T) {
	eff, err := NewVerifier(0).Verify(nil, alice.pub, "user.delete", capability.LevelPrivileged, t0, NewMemState())
	if err != nil {
		t.Fatal(err)
	}
	if eff.Depth != 0 || eff.Origin != principal.IDOf(alice.pub) || eff.Origin != eff.Invoker || len(eff.Links) != 0 {
		t.Fatalf("direct = %+v", eff)
	}
}

func TestSingleLinkChain(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 0), nil)
	eff, err := NewVerifier(0).Verify([]Link{l}, bob.pub, "user.read", ro, t0, NewMemState())
	if err != nil {
		t.Fatal(err)
	}
	if eff.Depth != 1 || eff.Origin != principal.IDOf(alice.pub) || eff.Invoker != principal.IDOf(bob.pub) {
		t.Fatalf("single = %+v", eff)
	}
}

func TestThreeHopChain(t *testing.T) {
	chain := threeHop(t, 0)
	eff, err := NewVerifier(0).Verify(chain, dave.pub, "user.list", ro, t0+int64(time.Minute), NewMemState())
	if err != nil {
		t.Fatal(err)
	}
	if eff.Depth != 3 || eff.Origin != principal.IDOf(alice.pub) || eff.Invoker != principal.IDOf(dave.pub) ||
		eff.NotAfter != t0+int64(10*time.Minute) || eff.Links[2] != chain[2].Hash() {
		t.Fatalf("effective = %+v", eff)
	}
	if fmt.Sprint(eff.Constraints.Allow) != "[user.list user.read]" || eff.Constraints.MaxLevel != ro {
		t.Fatalf("effective constraints = %+v", eff.Constraints)
	}
}

// Each failure kind the CLI reports, through Verify.
func TestVerifyFailures(t *testing.T) {
	chain := threeHop(t, 0)
	mid := t0 + int64(time.Minute)
	other := issue(t, alice, grant(bob, allowC(t, mut, "user.*"), time.Hour, 0), nil)
	swapped := issue(t, bob, grant(charlie, allowC(t, mut, "user.*"), 30*time.Minute, 0), &other)
	tampered := chain[1]
	tampered.sig = append([]byte(nil), chain[1].sig...)
	tampered.sig[10] ^= 1
	cases := []struct {
		name  string
		chain []Link
		who   party
		path  capability.Path
		level capability.Level
		now   int64
		want  error
	}{
		{"wrong invoker", chain, charlie, "user.read", ro, mid, ErrBrokenChain},
		{"link missing", []Link{chain[0], chain[2]}, dave, "user.read", ro, mid, ErrBrokenChain},
		{"not starting at a root", chain[1:], dave, "user.read", ro, mid, ErrBrokenChain},
		{"parent from another chain", []Link{chain[0], swapped, chain[2]}, dave, "user.read", ro, mid, ErrBrokenChain},
		{"bad signature", []Link{chain[0], tampered, chain[2]}, dave, "user.read", ro, mid, ErrBadSignature},
		{"expired", chain, dave, "user.read", ro, t0 + int64(11*time.Minute), ErrExpired},
		{"not yet valid", chain, dave, "user.read", ro, t0 - 1, ErrNotYetValid},
		{"not allowed", chain, dave, "user.delete", ro, mid, ErrNotAllowed},
		{"effect too high", chain, dave, "user.read", mut, mid, ErrEffectTooHigh},
	}
	for _, tc := range cases {
		_, err := NewVerifier(0).Verify(tc.chain, tc.who.pub, tc.path, tc.level, tc.now, NewMemState())
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.want, err)
		}
	}
}

// The window is inclusive at both ends.
func TestWindowInclusive(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 0), nil)
	v := NewVerifier(0)
	for _, now := range []int64{t0, t0 + int64(30*time.Minute), t0 + int64(time.Hour)} {
		if _, err := v.Verify([]Link{l}, bob.pub, "user.read", ro, now, nil); err != nil {
			t.Errorf("at %d: %v", now-t0, err)
		}
	}
	if _, err := v.Verify([]Link{l}, bob.pub, "user.read", ro, t0-int64(10*time.Second), nil); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("10s before: %v", err)
	}
	if _, err := v.Verify([]Link{l}, bob.pub, "user.read", ro, t0+int64(time.Hour)+1, nil); !errors.Is(err, ErrExpired) {
		t.Errorf("1ns after: %v", err)
	}
}

// A link signed by the right key but widening its parent (which Issue
// would refuse) fails verification.
func TestHandCraftedWideningFails(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 2), nil)
	for field, mut := range map[string]func(*Body){
		"allow":      func(b *Body) { b.Constraints.Allow = []capability.Pattern{"**"} },
		"max_effect": func(b *Body) { b.Constraints.MaxLevel = capability.LevelPrivileged },
		"not_after":  func(b *Body) { b.NotAfter += int64(time.Hour) },
		"max_uses":   func(b *Body) { b.MaxUses = 0 },
	} {
		body := root.Body()
		body.Nonce = []byte("0123456789abcdef")
		body.Issuer, body.IssuerID = bob.pub, principal.IDOf(bob.pub)
		body.Audience, body.AudienceID = charlie.pub, principal.IDOf(charlie.pub)
		body.Parent, body.Depth = root.Hash(), 1
		mut(&body)
		child, err := Sign(body, bob.priv)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewVerifier(0).Verify([]Link{root, child}, charlie.pub, "user.read", ro, t0, nil)
		if !errors.Is(err, ErrWidened) || FailedField(err) != field {
			t.Errorf("widened %s: got %v", field, err)
		}
	}
}

// Effective constraints are the intersection: {1, 2, 3} ∩ {1, 2} drops 3.
func TestEffectiveIntersection(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, ro, "cap.one", "cap.two", "cap.three"), time.Hour, 0), nil)
	child := issue(t, bob, grant(charlie, allowC(t, ro, "cap.one", "cap.two"), time.Hour, 0), &root)
	v := NewVerifier(0)
	for _, p := range []capability.Path{"cap.one", "cap.two"} {
		if _, err := v.Verify([]Link{root, child}, charlie.pub, p, ro, t0, nil); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := v.Verify([]Link{root, child}, charlie.pub, "cap.three", ro, t0, nil); FailedField(err) != "allow" {
		t.Errorf("cap.three must be dropped: %v", err)
	}
}

// A root's forbid wins over every allow below it.
func TestForbidWinsThroughTheChain(t *testing.T) {
	rc := mustConstraints(t, []string{"user.*"}, []string{"user.delete"}, []string{"*"}, []string{"*"}, mut)
	root := issue(t, alice, grant(bob, rc, time.Hour, 0), nil)
	child := issue(t, bob, grant(charlie, rc, time.Hour, 0), &root)
	_, err := NewVerifier(0).Verify([]Link{root, child}, charlie.pub, "user.delete", ro, t0, nil)
	if !errors.Is(err, ErrNotAllowed) || FailedField(err) != "forbid" {
		t.Fatalf("want forbid, got %v", err)
	}
}

// Revoking a link invalidates every chain through it, including chains
// already verified and cached.
func TestRevocationCascades(t *testing.T) {
	chain := threeHop(t, 0)
	st, v := NewMemState(), NewVerifier(0)
	branch := issue(t, bob, grant(dave, allowC(t, ro, "report.read"), time.Minute, 0), &chain[0])
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify([]Link{chain[0], branch}, dave.pub, "report.read", ro, t0, st); err != nil {
		t.Fatal(err)
	}
	st.Revoke(chain[1].Hash())
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); !errors.Is(err, ErrRevoked) {
		t.Fatalf("chain through the revoked link: %v", err)
	}
	if _, err := v.Verify([]Link{chain[0], branch}, dave.pub, "report.read", ro, t0, st); err != nil {
		t.Fatalf("a sibling chain is unaffected: %v", err)
	}
	st.Revoke(chain[0].Hash())
	if _, err := v.Verify([]Link{chain[0], branch}, dave.pub, "report.read", ro, t0, st); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoking the root invalidates every chain below it: %v", err)
	}
}

func TestUseCountsChecked(t *testing.T) {
	chain := threeHop(t, 2)
	st, v := NewMemState(), NewVerifier(0)
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Charge(chain); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st); !errors.Is(err, ErrUsageLimitExceeded) {
		t.Fatalf("third use: %v", err)
	}
}

// The cache never vouches for a different signature, and stays bounded.
func TestVerifierCache(t *testing.T) {
	chain := threeHop(t, 0)
	v := NewVerifier(2)
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, nil); err != nil {
		t.Fatal(err)
	}
	forged := append([]Link(nil), chain...)
	forged[2].sig = append([]byte(nil), chain[2].sig...)
	forged[2].sig[0] ^= 1
	if _, err := v.Verify(forged, dave.pub, "user.read", ro, t0, nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a cached chain with a forged signature: %v", err)
	}
	for i := 0; i < 5; i++ {
		c := threeHop(t, 0)
		if _, err := v.Verify(c, dave.pub, "user.read", ro, t0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if v.sigs.len() > 2 || v.chains.len() > 2 {
		t.Fatalf("caches grew past their bound: %d signatures, %d chains", v.sigs.len(), v.chains.len())
	}
	if _, err := v.Verify(chain, dave.pub, "user.read", ro, t0, nil); err != nil {
		t.Fatalf("an evicted chain verifies again: %v", err)
	}
}

// A chain decoded again from its tokens verifies the same, and hits the
// cache.
func TestVerifyDecodedChain(t *testing.T) {
	chain := threeHop(t, 0)
	v := NewVerifier(0)
	first, err := v.Prepare(chain)
	if err != nil {
		t.Fatal(err)
	}
	decoded := make([]Link, len(chain))
	for i, l := range chain {
		text, _ := Encode(l)
		if decoded[i], err = Decode(text); err != nil {
			t.Fatal(err)
		}
	}
	again, err := v.Prepare(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("the decoded chain must be found in the cache")
	}
}

func TestReason(t *testing.T) {
	for _, r := range reasons {
		wrapped := fmt.Errorf("outer: %w", &FieldError{Field: "x", Err: r.err})
		if got := Reason(wrapped); got != r.name {
			t.Errorf("Reason(%v) = %q, want %q", r.err, got, r.name)
		}
	}
	if Reason(nil) != "" || Reason(errors.New("other")) != "" {
		t.Error("Reason of a foreign error must be empty")
	}
}
