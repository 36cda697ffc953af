package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testSigner(t testing.TB, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner("", testKey(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testBody() Body {
	root := sha256.Sum256([]byte("root"))
	return Body{Origin: "cnv.example/ledger", Size: 42, Root: root[:], PolicyHash: "abc123", Time: 1700000000000000000}
}

func TestTextPinned(t *testing.T) {
	text, err := testBody().Text()
	if err != nil {
		t.Fatal(err)
	}
	want := "cnv.example/ledger\n42\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\npolicy abc123\ntime 1700000000000000000\n"
	if text != want {
		t.Fatalf("text changed:\n%q\nwant\n%q", text, want)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, b := range []Body{
		testBody(),
		{Origin: "o", Size: 0, Root: make([]byte, 32)},
		{Origin: "o", Size: 1, Root: make([]byte, 32), Time: 5},
		{Origin: "o", Size: 1 << 40, Root: make([]byte, 32), PolicyHash: "p", Extra: []string{"x y z", "w"}},
	} {
		text, err := b.Text()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !got.Equal(b) {
			t.Fatalf("round trip: %+v != %+v", got, b)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := testBody().Text()
	for _, text := range []string{
		"",
		"o\n1\n",
		"o\n01\n" + strings.Split(good, "\n")[2] + "\n",
		"o\n-1\n" + strings.Split(good, "\n")[2] + "\n",
		"o\n1\nnot base64!\n",
		"o\n1\nAAAA\n",
		strings.TrimSuffix(good, "\n"),
		strings.Replace(good, "time 1700000000000000000", "time x", 1),
		strings.Replace(good, "policy abc123\n", "", 1) + "policy late\n",
		"\n1\n" + strings.Split(good, "\n")[2] + "\n",
	} {
		if _, err := Parse(text); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", text, err)
		}
	}
	bad := testBody()
	bad.Origin = "two\nlines"
	if _, err := bad.Text(); !errors.Is(err, ErrMalformed) {
		t.Errorf("origin with newline: %v", err)
	}
}

// KeyHash must be the one the note format computes for the same key, or
// verifiers would not find the key.
func TestKeyHashMatchesNoteFormat(t *testing.T) {
	s := testSigner(t, 1)
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		t.Fatalf("verifier %s+%08x, signer %s+%08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	if !strings.HasPrefix(s.Name(), "k_") {
		t.Fatalf("name %q is not a key ID", s.Name())
	}
	k2, err := VerifierKey(s.Name(), testKey(t, 1).Public().(ed25519.PublicKey))
	if err != nil || k2 != s.VerifierKey() {
		t.Fatalf("VerifierKey %q, %v", k2, err)
	}
}

func TestSignOpen(t *testing.T) {
	s := testSigner(t, 1)
	text, _ := testBody().Text()
	signed, err := Sign(text, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(signed, []string{s.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Body.Equal(testBody()) || len(got.Signers) != 1 || got.Signers[0] != s.Name() {
		t.Fatalf("%+v", got)
	}
	// The note library's own verifier accepts it too.
	v, _ := note.NewVerifier(s.VerifierKey())
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejects(t *testing.T) {
	s1, s2 := testSigner(t, 1), testSigner(t, 2)
	text, _ := testBody().Text()
	signed, _ := Sign(text, s1)
	if _, err := Open(signed, []string{s2.VerifierKey()}); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("unknown key: %v", err)
	}
	both, _ := Cosign(signed, s2)
	if _, err := Open(both, []string{s1.VerifierKey()}); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("one unknown of two: %v", err)
	}
	tampered := bytes.Replace(signed, []byte("\n42\n"), []byte("\n43\n"), 1)
	if _, err := Open(tampered, []string{s1.VerifierKey()}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := Open([]byte("garbage"), []string{s1.VerifierKey()}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := Open(signed, []string{"not a key"}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("bad key string: %v", err)
	}
}

func TestCosignOrderIndependent(t *testing.T) {
	signers := []*Signer{testSigner(t, 1), testSigner(t, 2), testSigner(t, 3)}
	text, _ := testBody().Text()
	var keys []string
	each := make([][]byte, len(signers))
	for i, s := range signers {
		keys = append(keys, s.VerifierKey())
		each[i], _ = Sign(text, s)
	}
	a, err := Merge(each[0], each[1], each[2])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Merge(each[2], each[0], each[1], each[0])
	c, _ := Cosign(each[1], signers[2], signers[0])
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatalf("merge depends on order:\n%s\n%s\n%s", a, b, c)
	}
	got, err := Open(a, MergeKeys(keys[2:], keys[:2]))
	if err != nil || len(got.Signers) != 3 {
		t.Fatalf("%v %+v", err, got)
	}
	names, _ := SignerNames(a)
	if fmt.Sprint(names) != fmt.Sprint(got.Signers) {
		t.Fatalf("SignerNames %v vs %v", names, got.Signers)
	}
}

func TestMergeTextMismatch(t *testing.T) {
	s := testSigner(t, 1)
	t1, _ := testBody().Text()
	other := testBody()
	other.Size++
	t2, _ := other.Text()
	a, _ := Sign(t1, s)
	b, _ := Sign(t2, s)
	if _, err := Merge(a, b); !errors.Is(err, ErrTextMismatch) {
		t.Fatalf("%v", err)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := testBody().Text()
	f.Add(good)
	f.Add("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := Parse(text)
		if err != nil {
			return
		}
		again, err := b.Text()
		if err != nil || again != text {
			t.Fatalf("accepted %q but renders %q (%v)", text, again, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	s := testSigner(f, 1)
	text, _ := testBody().Text()
	signed, _ := Sign(text, s)
	f.Add(signed)
	f.Add([]byte(text + "\n— x AAAAAAAA\n"))
	key := s.VerifierKey()
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := Open(msg, []string{key})
		if err != nil {
			return
		}
		if len(got.Signers) == 0 {
			t.Fatal("opened a note with no verified signer")
		}
		if _, err := Merge(msg); err != nil {
			t.Fatalf("opened but cannot merge: %v", err)
		}
	})
}

// Open reports exactly the keys that verified a signature, not every key
// it was given, even when two keys share a name.
func TestOpenKeys(t *testing.T) {
	s1, s2 := testSigner(t, 1), testSigner(t, 2)
	impostor, err := NewSigner(s1.Name(), testKey(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := testBody().Text()
	signed, _ := Sign(text, s1)
	got, err := Open(signed, []string{impostor.VerifierKey(), s1.VerifierKey(), s2.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 1 || got.Keys[0] != s1.VerifierKey() {
		t.Fatalf("keys %v", got.Keys)
	}
}
