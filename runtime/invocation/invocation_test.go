package invocation

import (
	"crypto/ed25519"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

func TestParseWords(t *testing.T) {
	cases := []struct {
		words []string
		want  Invocation
	}{
		{[]string{"user", "create", "--name", "alice"},
			Invocation{Capability: "user.create", Args: []Arg{{"name", "alice"}}}},
		{[]string{"user.create", "--name", "alice", "--age=30", "active"},
			Invocation{Capability: "user.create", Args: []Arg{{"name", "alice"}, {"age", "30"}}, Positional: []string{"active"}}},
		{[]string{"git.commit", "-v"},
			Invocation{Capability: "git.commit", Positional: []string{"-v"}}},
		{[]string{"deploy.app", "--force", "--region", "eu"},
			Invocation{Capability: "deploy.app", Args: []Arg{{"force", ""}, {"region", "eu"}}}},
		{[]string{"file", "copy", "--", "a.txt", "b.txt"},
			Invocation{Capability: "file.copy", Positional: []string{"a.txt", "b.txt"}}},
		{[]string{"api", "v2", "resource", "action", "--tag", "x", "--tag", "y"},
			Invocation{Capability: "api.v2.resource.action", Args: []Arg{{"tag", "x"}, {"tag", "y"}}}},
		{[]string{"services.restart@2.0.0", "--now"},
			Invocation{Capability: "services.restart@2.0.0", Args: []Arg{{"now", ""}}}},
	}
	for _, c := range cases {
		got, err := ParseWords(c.words)
		if err != nil {
			t.Errorf("%v: %v", c.words, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.words, got, c.want)
		}
	}
	for _, bad := range [][]string{nil, {"user"}, {"--name", "x"}, {"user.create", "--=x"}} {
		if _, err := ParseWords(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCommandLineAndDigest(t *testing.T) {
	inv, _ := ParseWords([]string{"user", "create", "--name", "alice smith", "--admin"})
	if got := inv.CommandLine(); got != `user.create --name "alice smith" --admin` {
		t.Errorf("%q", got)
	}
	a, b := inv, inv
	b.Args = append([]Arg(nil), inv.Args...)
	b.Args[0].Value = "bob"
	if a.ArgsDigest() == b.ArgsDigest() || len(a.ArgsDigest()) != 64 {
		t.Error("digest")
	}
	if v, ok := inv.Arg("name"); !ok || v != "alice smith" {
		t.Error("Arg")
	}
}

func TestValidateLimits(t *testing.T) {
	ok := Invocation{Capability: "user.create", RequestID: "r1"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	mods := map[string]func(*Invocation){
		"no request id":   func(i *Invocation) { i.RequestID = "" },
		"bad path":        func(i *Invocation) { i.Capability = "user" },
		"too many args":   func(i *Invocation) { i.Positional = make([]string, limits.MaxArgs+1) },
		"long value":      func(i *Invocation) { i.Args = []Arg{{"a", strings.Repeat("x", limits.MaxArgValueLen+1)}} },
		"bad arg name":    func(i *Invocation) { i.Args = []Arg{{"a b", ""}} },
		"huge payload":    func(i *Invocation) { i.Payload = make([]byte, limits.MaxPayloadBytes+1) },
		"deep chain":      func(i *Invocation) { i.Chain = make([][]byte, limits.MaxChainDepth+1) },
		"bad tenant":      func(i *Invocation) { i.Tenant = "a b" },
		"bad correlation": func(i *Invocation) { i.CorrelationID = strings.Repeat("c", limits.MaxIDLen+1) },
	}
	for name, mod := range mods {
		inv := ok
		mod(&inv)
		if err := inv.Validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func keys(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey, KeyLookup) {
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, func(k principal.KeyID) (ed25519.PublicKey, bool) {
		if k == principal.IDOf(pub) {
			return pub, true
		}
		return nil, false
	}
}

func TestSignOpen(t *testing.T) {
	_, priv, lookup := keys(t)
	invs := []Invocation{{Capability: "user.create", RequestID: "r1"}, {Capability: "user.read", RequestID: "r2"}}
	s, err := Sign(priv, invs)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewVerifyCache(8)
	b, err := s.Open(lookup, cache)
	if err != nil || len(b.Invocations) != 2 || b.Invocations[1].Capability != "user.read" {
		t.Fatalf("%v %+v", err, b)
	}
	// Tampering.
	bad := s
	bad.Body = append([]byte(nil), s.Body...)
	bad.Body[len(bad.Body)-2] ^= 1
	if _, err := bad.Open(lookup, cache); err == nil {
		t.Error("tampered body accepted")
	}
	bad = s
	bad.Signature = append([]byte(nil), s.Signature...)
	bad.Signature[0] ^= 1
	if _, err := bad.Open(lookup, cache); !errors.Is(err, ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	bad.Signature = nil
	if _, err := bad.Open(lookup, cache); !errors.Is(err, ErrBadSignature) {
		t.Errorf("missing signature: %v", err)
	}
	// Unknown key.
	_, other, _ := keys(t)
	s2, _ := Sign(other, invs)
	if _, err := s2.Open(lookup, cache); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Sign(priv, nil); err == nil {
		t.Error("empty batch signed")
	}
}

// The cache never vouches for a body under a different key or signature.
func TestVerifyCacheBindsKey(t *testing.T) {
	pub, priv, _ := keys(t)
	pub2, _, _ := keys(t)
	s, _ := Sign(priv, []Invocation{{Capability: "a.b", RequestID: "r"}})
	cache := NewVerifyCache(4)
	if err := s.verify(pub, cache); err != nil {
		t.Fatal(err)
	}
	if err := s.verify(pub2, cache); !errors.Is(err, ErrBadSignature) {
		t.Fatal("cached entry used for another key")
	}
	// Fill past capacity: still correct.
	for i := 0; i < 10; i++ {
		cache.add([32]byte{byte(i)})
	}
	if err := s.verify(pub, cache); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkOpenBatch64Cached(b *testing.B) {
	_, priv, lookup := keys(b)
	invs := make([]Invocation, 64)
	for i := range invs {
		invs[i] = Invocation{Capability: "user.create", RequestID: "r" + strings.Repeat("x", i%5), Args: []Arg{{"name", "alice"}}}
	}
	s, _ := Sign(priv, invs)
	cache := NewVerifyCache(16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Open(lookup, cache); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	_, priv, lookup := keys(f)
	s, _ := Sign(priv, []Invocation{{Capability: "user.create", RequestID: "r1", Args: []Arg{{"n", "v"}}}})
	f.Add(s.Body, s.Signature)
	f.Add([]byte{0x80}, []byte{})
	f.Fuzz(func(t *testing.T, body, sig []byte) {
		sg := Signed{Body: body, Signature: sig}
		b, err := sg.Open(lookup, nil)
		if err != nil {
			return
		}
		for i := range b.Invocations {
			if err := b.Invocations[i].Validate(); err != nil {
				t.Fatal("opened an invalid invocation")
			}
		}
	})
}

func FuzzParseWords(f *testing.F) {
	f.Add("user create --name alice")
	f.Add("user.create --name=alice x -- y")
	f.Fuzz(func(t *testing.T, line string) {
		inv, err := ParseWords(strings.Fields(line))
		if err != nil {
			return
		}
		if _, err := inv.Ref(); err != nil {
			t.Fatal(err)
		}
		_ = inv.CommandLine()
	})
}
