package delegation

import (
	"errors"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Sub-delegation: a child asking for more than its parent has is refused,
// and a child asking within the parent gets exactly that, at the lower
// level, naming its parent.
func TestSubDelegation(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, capability.LevelMutate, "doc.read", "doc.write", "doc.delete"), time.Hour, 0), nil)
	child := issue(t, bob, grant(charlie, allowC(t, capability.LevelReadOnly, "doc.read", "doc.write"), time.Hour, 0), &root)
	b := child.Body()
	if b.Parent != root.Hash() || b.Depth != 1 || b.Constraints.MaxLevel != capability.LevelReadOnly {
		t.Fatalf("child = %+v", b)
	}
	if err := b.Constraints.Allows("doc.delete", capability.LevelReadOnly); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("the child must lack doc.delete, got %v", err)
	}
}

func TestIssueRefusesWidening(t *testing.T) {
	parentC := mustConstraints(t, []string{"user.*"}, []string{"user.delete"}, []string{"user"}, []string{"read", "list", "delete"}, capability.LevelMutate)
	pg := grant(bob, parentC, time.Hour, 5)
	pg.NotBefore = t0 + int64(time.Minute)
	parent := issue(t, alice, pg, nil)
	narrow := func() Grant {
		g := grant(charlie, mustConstraints(t, []string{"user.read"}, nil, []string{"user"}, []string{"read"}, capability.LevelReadOnly), 30*time.Minute, 5)
		g.NotBefore = pg.NotBefore
		return g
	}
	if _, err := Issue(bob.priv, narrow(), &parent, nil); err != nil {
		t.Fatalf("a narrowing child must be issued: %v", err)
	}
	cases := map[string]func(*Grant){
		"allow":      func(g *Grant) { g.Constraints.Allow = []capability.Pattern{"user.**"} },
		"forbid":     func(g *Grant) { g.Constraints.Allow = []capability.Pattern{"user.*"} },
		"nouns":      func(g *Grant) { g.Constraints.Nouns = []string{"*"} },
		"verbs":      func(g *Grant) { g.Constraints.Verbs = []string{"read", "create"} },
		"max_effect": func(g *Grant) { g.Constraints.MaxLevel = capability.LevelPrivileged },
		"not_before": func(g *Grant) { g.NotBefore = t0 },
		"not_after":  func(g *Grant) { g.NotAfter = pg.NotAfter + 1 },
		"max_uses":   func(g *Grant) { g.MaxUses = 6 },
	}
	for field, mut := range cases {
		g := narrow()
		mut(&g)
		_, err := Issue(bob.priv, g, &parent, nil)
		if !errors.Is(err, ErrWidened) || FailedField(err) != field {
			t.Errorf("widening %s: got %v (field %q)", field, err, FailedField(err))
		}
	}
	unlimited := narrow()
	unlimited.MaxUses = 0
	if _, err := Issue(bob.priv, unlimited, &parent, nil); FailedField(err) != "max_uses" {
		t.Errorf("an unlimited child of a limited parent widens max_uses: %v", err)
	}
}

func TestIssueChecksTheParent(t *testing.T) {
	root := issue(t, alice, grant(bob, allowC(t, 0, "user.read"), time.Hour, 0), nil)
	if _, err := Issue(charlie.priv, grant(dave, allowC(t, 0, "user.read"), time.Minute, 0), &root, nil); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("only the parent's audience may sub-delegate: %v", err)
	}
	forged := root
	forged.sig = append([]byte(nil), root.sig...)
	forged.sig[5] ^= 0x40
	if _, err := Issue(bob.priv, grant(dave, allowC(t, 0, "user.read"), time.Minute, 0), &forged, nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a parent with a bad signature: %v", err)
	}
	// A child cannot be born expired (not_before after not_after).
	g := grant(charlie, allowC(t, 0, "user.read"), time.Minute, 0)
	g.NotBefore, g.NotAfter = g.NotAfter, g.NotBefore
	if _, err := Issue(bob.priv, g, &root, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an empty window: %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	parties := []party{alice}
	for i := 0; i < 9; i++ {
		parties = append(parties, newParty(string(rune('k'+i))))
	}
	var chain []Link
	for i := 0; i < 8; i++ {
		var parent *Link
		if i > 0 {
			parent = &chain[i-1]
		}
		chain = append(chain, issue(t, parties[i], grant(parties[i+1], allowC(t, 0, "user.read"), time.Hour, 0), parent))
	}
	if _, err := Issue(parties[8].priv, grant(parties[9], allowC(t, 0, "user.read"), time.Hour, 0), &chain[7], nil); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("a ninth link: want ErrTooDeep, got %v", err)
	}
	v := NewVerifier(0)
	if _, err := v.Verify(chain, parties[8].pub, "user.read", 0, t0, nil); err != nil {
		t.Fatalf("eight links are allowed: %v", err)
	}
	if _, err := v.Verify(append(chain, chain[7]), parties[8].pub, "user.read", 0, t0, nil); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("nine links: want ErrTooDeep, got %v", err)
	}
}

func TestSpecResolve(t *testing.T) {
	ro, mut := capability.LevelReadOnly, capability.LevelMutate
	if _, err := (Spec{TTL: time.Hour}).Resolve(bob.pub, nil, t0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a root needs an allow list: %v", err)
	}
	if _, err := (Spec{Allow: []string{"user.read"}}).Resolve(bob.pub, nil, t0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a root needs a ttl: %v", err)
	}
	g, err := Spec{Allow: []string{"user.read", " user.list"}, TTL: time.Hour}.Resolve(bob.pub, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Constraints.MaxLevel != ro || len(g.Constraints.Nouns) != 1 || g.Constraints.Nouns[0] != "*" ||
		g.NotBefore != t0 || g.NotAfter != t0+int64(time.Hour) || g.MaxUses != 0 {
		t.Fatalf("root defaults: %+v", g)
	}
	three := uint64(3)
	pg, _ := Spec{Allow: []string{"user.*"}, Forbid: []string{"user.delete"}, Verbs: []string{"read", "list", "delete"},
		MaxLevel: &mut, TTL: time.Hour, MaxUses: &three}.Resolve(bob.pub, nil, t0)
	parent := issue(t, alice, pg, nil)
	// Unspecified fields inherit the parent's; forbid adds to the parent's.
	cg, err := Spec{Forbid: []string{"user.list"}}.Resolve(charlie.pub, &parent, t0+10)
	if err != nil {
		t.Fatal(err)
	}
	c := cg.Constraints
	if len(c.Allow) != 1 || c.Allow[0] != "user.*" || len(c.Forbid) != 2 || c.MaxLevel != mut || len(c.Verbs) != 3 ||
		cg.NotBefore != t0+10 || cg.NotAfter != pg.NotAfter || cg.MaxUses != 3 {
		t.Fatalf("inherited grant: %+v", cg)
	}
	if _, err := Issue(bob.priv, cg, &parent, nil); err != nil {
		t.Fatalf("an inherited grant narrows its parent: %v", err)
	}
	// A ttl past the parent's expiry is a widening, caught at issue.
	long, _ := Spec{TTL: 2 * time.Hour}.Resolve(charlie.pub, &parent, t0)
	if _, err := Issue(bob.priv, long, &parent, nil); FailedField(err) != "not_after" {
		t.Fatalf("want a not_after widening, got %v", err)
	}
}
