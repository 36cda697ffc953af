package delegation

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// With max_uses 2, two uses succeed and the third fails.
func TestMaxUsesTwo(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 2), nil)
	st := NewMemState()
	for i := 1; i <= 2; i++ {
		ch, err := st.Charge([]Link{l})
		if err != nil || len(ch) != 1 || ch[0].Uses != uint64(i) || ch[0].MaxUses != 2 || ch[0].Link != l.Hash() {
			t.Fatalf("use %d: %+v, %v", i, ch, err)
		}
	}
	if _, err := st.Charge([]Link{l}); !errors.Is(err, ErrUsageLimitExceeded) {
		t.Fatalf("third use: %v", err)
	}
}

// The pure Charge reads the state and changes nothing.
func TestChargeIsPure(t *testing.T) {
	chain := threeHop(t, 3)
	st := NewMemState()
	ch, err := Charge(chain, st)
	if err != nil || len(ch) != 3 {
		t.Fatalf("%+v, %v", ch, err)
	}
	for _, l := range chain {
		if st.Uses(l.Hash()) != 0 {
			t.Fatal("Charge must not change the state")
		}
	}
}

// Uses count against every link: two children of one parent share the
// parent's budget, and a charge that one link cannot take charges no link.
func TestHierarchicalCharging(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, ro, "user.*"), time.Hour, 3), nil)
	toC := issue(t, bob, grant(charlie, allowC(t, ro, "user.read"), time.Hour, 3), &root)
	toD := issue(t, bob, grant(dave, allowC(t, ro, "user.list"), time.Hour, 2), &root)
	st := NewMemState()
	mustCharge := func(chain ...Link) {
		t.Helper()
		if _, err := st.Charge(chain); err != nil {
			t.Fatal(err)
		}
	}
	mustCharge(root, toC)
	mustCharge(root, toD)
	mustCharge(root, toC)
	if _, err := st.Charge([]Link{root, toD}); !errors.Is(err, ErrUsageLimitExceeded) {
		t.Fatalf("the root's budget of 3 is spent: %v", err)
	}
	if st.Uses(toD.Hash()) != 1 || st.Uses(root.Hash()) != 3 || st.Uses(toC.Hash()) != 2 {
		t.Fatalf("a refused charge must change nothing: root %d, toC %d, toD %d",
			st.Uses(root.Hash()), st.Uses(toC.Hash()), st.Uses(toD.Hash()))
	}
}

// Counts live in the state, keyed by link hash, not in the token: a
// re-read token does not start again at 0.
func TestMaxUsesSurvivesReload(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 1), nil)
	st, v := NewMemState(), NewVerifier(0)
	if _, err := st.Charge([]Link{l}); err != nil {
		t.Fatal(err)
	}
	text, _ := Encode(l)
	reloaded, err := Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Charge([]Link{reloaded}); !errors.Is(err, ErrUsageLimitExceeded) {
		t.Fatalf("charge after reload: %v", err)
	}
	if _, err := v.Verify([]Link{reloaded}, bob.pub, "user.read", ro, t0, st); !errors.Is(err, ErrUsageLimitExceeded) {
		t.Fatalf("verify after reload: %v", err)
	}
}

// Concurrent charging never overshoots any link's max_uses, and charges
// every link of a successful invocation together.
func TestConcurrentChargingNeverOvershoots(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, ro, "user.*"), time.Hour, 50), nil)
	a := issue(t, bob, grant(charlie, allowC(t, ro, "user.read"), time.Hour, 30), &root)
	b := issue(t, bob, grant(dave, allowC(t, ro, "user.list"), time.Hour, 40), &root)
	st := NewMemState()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			chain := []Link{root, a}
			if w%2 == 1 {
				chain = []Link{root, b}
			}
			for i := 0; i < 100; i++ {
				if _, err := st.Charge(chain); err == nil {
					ok.Add(1)
				} else if !errors.Is(err, ErrUsageLimitExceeded) {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	r, ua, ub := st.Uses(root.Hash()), st.Uses(a.Hash()), st.Uses(b.Hash())
	if ok.Load() != 50 || r != 50 || ua+ub != 50 || ua > 30 || ub > 40 {
		t.Fatalf("%d charges succeeded; root %d, a %d, b %d", ok.Load(), r, ua, ub)
	}
}

func TestRevokeIdempotent(t *testing.T) {
	st := NewMemState()
	e := st.RevocationEpoch().Load()
	if !st.Revoke(Hash{1}) || st.Revoke(Hash{1}) || !st.Revoked(Hash{1}) || st.Revoked(Hash{2}) {
		t.Fatal("Revoke reports whether the link was newly revoked")
	}
	if st.RevocationEpoch().Load() != e+1 {
		t.Fatal("one new revocation advances the epoch once")
	}
}

// Verifying concurrently with revocations: once Revoke has returned, no
// verification that starts afterwards succeeds.
func TestVerifyConcurrentWithRevoke(t *testing.T) {
	chain := threeHop(t, 0)
	st, v := NewMemState(), NewVerifier(0)
	var wg sync.WaitGroup
	var revoked atomic.Bool
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				after := revoked.Load()
				_, err := v.Verify(chain, dave.pub, "user.read", ro, t0, st)
				if after && !errors.Is(err, ErrRevoked) {
					t.Errorf("verify after revocation: %v", err)
					return
				}
				if !after && err != nil && !errors.Is(err, ErrRevoked) {
					t.Errorf("verify: %v", err)
					return
				}
			}
		}()
	}
	st.Revoke(chain[1].Hash())
	revoked.Store(true)
	wg.Wait()
}
