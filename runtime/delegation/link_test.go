package delegation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/principal"
)

func TestIssueRoot(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, capability.LevelReadOnly, "user.read"), time.Hour, 3), nil)
	b := l.Body()
	if b.Version != Version || len(b.Nonce) != NonceSize || !l.IsRoot() || !b.Parent.IsZero() ||
		b.IssuerID != principal.IDOf(alice.pub) || b.AudienceID != principal.IDOf(bob.pub) ||
		b.NotBefore != t0 || b.NotAfter != t0+int64(time.Hour) || b.MaxUses != 3 {
		t.Fatalf("body = %+v", b)
	}
	if err := l.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	other := issue(t, alice, grant(bob, allowC(t, capability.LevelReadOnly, "user.read"), time.Hour, 3), nil)
	if other.Hash() == l.Hash() {
		t.Fatal("two links with the same grant must differ by their nonce")
	}
}

// The link hash is SHA-256 over the canonical body bytes, and those bytes
// are pinned: a change is a change of the token format.
func TestLinkHashPinned(t *testing.T) {
	g := grant(bob, allowC(t, capability.LevelReadOnly, "user.read"), time.Hour, 3)
	l, err := Issue(alice.priv, g, nil, &counterReader{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "9f21002fb19cc79184ac9b6bf36e7260483e117e2fd97d9057f9bd66fef87093"
	if got := l.Hash().String(); got != want {
		t.Fatalf("hash = %s, want %s", got, want)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	chain := threeHop(t, 5)
	for _, l := range chain {
		text, err := Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(text, []byte("-----BEGIN CNV DELEGATION LINK-----\n")) {
			t.Fatalf("token does not start with the PEM header:\n%s", text)
		}
		back, err := Decode(text)
		if err != nil {
			t.Fatal(err)
		}
		if back.Hash() != l.Hash() || !reflect.DeepEqual(back.Body(), l.Body()) || !bytes.Equal(back.Signature(), l.Signature()) {
			t.Fatalf("round trip changed the link")
		}
		if err := back.VerifySignature(); err != nil {
			t.Fatal(err)
		}
	}
}

// Links embed in other codec and JSON structures through their binary and
// text forms.
func TestLinkEmbeds(t *testing.T) {
	type carrier struct {
		Chain []Link `json:"chain"`
	}
	in := carrier{Chain: threeHop(t, 0)}
	var viaCodec carrier
	if err := codec.Unmarshal(codec.MustMarshal(in), &viaCodec); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var viaJSON carrier
	if err := json.Unmarshal(js, &viaJSON); err != nil {
		t.Fatal(err)
	}
	for i := range in.Chain {
		if viaCodec.Chain[i].Hash() != in.Chain[i].Hash() || viaJSON.Chain[i].Hash() != in.Chain[i].Hash() {
			t.Fatalf("link %d changed in transit", i)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, 0, "user.read"), time.Hour, 0), nil)
	good, _ := Encode(l)
	env, _ := l.MarshalBinary()
	pemOf := func(typ string, b []byte, headers map[string]string) []byte {
		return pemEncode(typ, b, headers)
	}
	body := l.Body()
	body.MaxUses = 7 // changes the bytes without re-signing: a different hash, bad signature
	nonCanon := codec.MustMarshal(map[string]any{"body": append(codec.MustMarshal(&body), 0xc0), "sig": l.Signature()})
	cases := map[string][]byte{
		"empty":            nil,
		"not pem":          []byte("hello"),
		"wrong type":       pemOf("PUBLIC KEY", env, nil),
		"headers":          pemOf(PEMType, env, map[string]string{"Hash": "x"}),
		"trailing data":    append(append([]byte{}, good...), "junk"...),
		"two blocks":       append(append([]byte{}, good...), good...),
		"garbage envelope": pemOf(PEMType, []byte{0x01, 0x02}, nil),
		"trailing body":    pemOf(PEMType, nonCanon, nil),
		"short signature":  pemOf(PEMType, codec.MustMarshal(map[string]any{"body": l.BodyBytes(), "sig": []byte{1}}), nil),
		"too large":        bytes.Repeat([]byte("A"), 65<<10),
	}
	for name, data := range cases {
		if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %v", name, err)
		}
	}
	if _, err := Decode(append([]byte("\n\n"), good...)); err != nil {
		t.Errorf("surrounding white space is fine: %v", err)
	}
}

// A body must be in its one canonical encoding: the same fields encoded
// differently would give the same link another hash.
func TestDecodeRejectsNonCanonicalBody(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, 0, "user.read"), time.Hour, 0), nil)
	// Re-encode the body as a map with one more field: it decodes into the
	// same Body, but its bytes are not the canonical ones.
	var m map[string]any
	if err := codec.Unmarshal(l.BodyBytes(), &m); err != nil {
		t.Fatal(err)
	}
	m["extra"] = 1
	env := codec.MustMarshal(map[string]any{"body": codec.MustMarshal(m), "sig": l.Signature()})
	if _, err := DecodeBinary(env); !errors.Is(err, ErrMalformed) {
		t.Fatalf("want ErrMalformed, got %v", err)
	}
}

func TestBodyValidate(t *testing.T) {
	base := issue(t, alice, grant(bob, allowC(t, 0, "user.read"), time.Hour, 0), nil).Body()
	mut := map[string]func(*Body){
		"version":         func(b *Body) { b.Version = 2 },
		"nonce":           func(b *Body) { b.Nonce = b.Nonce[:8] },
		"issuer key":      func(b *Body) { b.Issuer = b.Issuer[:31] },
		"issuer key id":   func(b *Body) { b.IssuerID = principal.IDOf(charlie.pub) },
		"audience key id": func(b *Body) { b.AudienceID = "k_0000000000000000" },
		"empty window":    func(b *Body) { b.NotBefore = b.NotAfter + 1 },
		"root with depth": func(b *Body) { b.Depth = 1 },
		"child no depth":  func(b *Body) { b.Parent = Hash{1} },
		"bad constraints": func(b *Body) { b.Constraints.Allow = []capability.Pattern{"user"} },
	}
	for name, m := range mut {
		b := base
		b.Nonce = append([]byte(nil), base.Nonce...)
		m(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("%s: must not validate", name)
		}
		if _, err := Sign(b, alice.priv); err == nil {
			t.Errorf("%s: Sign must refuse", name)
		}
	}
	deep := base
	deep.Depth, deep.Parent = 8, Hash{1}
	if err := deep.Validate(); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth 8 is a ninth link: want ErrTooDeep, got %v", err)
	}
	if _, err := Sign(base, bob.priv); !errors.Is(err, ErrMalformed) {
		t.Errorf("signing with a key that is not the issuer's: %v", err)
	}
}

func TestBadSignature(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, 0, "user.read"), time.Hour, 0), nil)
	sig := append([]byte(nil), l.Signature()...)
	sig[0] ^= 1
	forged := Link{body: l.body, raw: l.raw, sig: sig, hash: l.hash}
	if err := forged.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("want ErrBadSignature, got %v", err)
	}
	// The same body signed by somebody else is not the issuer's signature.
	other := ed25519.Sign(charlie.priv, signedMessage(l.raw))
	if err := (&Link{body: l.body, raw: l.raw, sig: other, hash: l.hash}).VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("want ErrBadSignature, got %v", err)
	}
}

func TestView(t *testing.T) {
	chain := threeHop(t, 2)
	v := chain[1].View()
	if v.Hash != chain[1].Hash().String() || v.Parent != chain[0].Hash().String() || v.Depth != 1 ||
		v.Issuer != principal.IDOf(bob.pub) || v.Audience != principal.IDOf(charlie.pub) || v.MaxUses != 2 ||
		!strings.HasPrefix(v.NotBeforeAt, "2026-01-02T03:04:05") {
		t.Fatalf("view = %+v", v)
	}
	if root := chain[0].View(); root.Parent != "" {
		t.Fatalf("a root has no parent, got %q", root.Parent)
	}
}

// A decoded link owns its bytes: changing the input afterwards, or the
// slices handed out by its accessors, changes nothing.
func TestLinkIsImmutable(t *testing.T) {
	l := issue(t, alice, grant(bob, allowC(t, ro, "user.read"), time.Hour, 0), nil)
	env, _ := l.MarshalBinary()
	d, err := DecodeBinary(env)
	if err != nil {
		t.Fatal(err)
	}
	for i := range env {
		env[i] = 0
	}
	d.Signature()[0] ^= 1
	d.BodyBytes()[0] ^= 1
	b := d.Body()
	b.Issuer[0] ^= 1
	b.Constraints.Allow[0] = "**"
	if err := d.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	if d.Hash() != l.Hash() || d.Body().Constraints.Allow[0] != "user.read" {
		t.Fatal("the decoded link changed")
	}
}

// Empty and absent lists keep their distinct canonical encodings through a
// decode, so links with "allow nothing" constraints decode.
func TestEmptyListsRoundTrip(t *testing.T) {
	for _, c := range []Constraints{Strict(), {}, {Nouns: []string{}}} {
		body := issue(t, alice, grant(bob, allowC(t, ro, "a.b"), time.Hour, 0), nil).Body()
		body.Constraints = c
		l, err := Sign(body, alice.priv)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := Encode(l)
		if back, err := Decode(text); err != nil || back.Hash() != l.Hash() {
			t.Fatalf("%+v: %v", c, err)
		}
	}
}
