package delegation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

func seedTokens(f *testing.F) [][]byte {
	var out [][]byte
	for _, l := range threeHop(f, 3) {
		text, err := Encode(l)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, text)
	}
	return out
}

// FuzzDecode: token decoding never panics, refuses with ErrMalformed (or
// ErrTooDeep), and whatever it accepts re-encodes to a token that decodes
// to the same link.
func FuzzDecode(f *testing.F) {
	for _, tok := range seedTokens(f) {
		f.Add(tok)
	}
	f.Add([]byte("-----BEGIN CNV DELEGATION LINK-----\n-----END CNV DELEGATION LINK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkRoundTrip(t, l)
	})
}

// FuzzDecodeBinary: the same for the transport encoding that links use
// inside other codec structures.
func FuzzDecodeBinary(f *testing.F) {
	for _, l := range threeHop(f, 0) {
		b, _ := l.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{0x82, 0xa4, 'b', 'o', 'd', 'y', 0xc4, 0x00, 0xa3, 's', 'i', 'g', 0xc4, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeBinary(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, l)
	})
}

func checkRoundTrip(t *testing.T, l Link) {
	text, err := Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != l.Hash() || !bytes.Equal(back.BodyBytes(), l.BodyBytes()) || !bytes.Equal(back.Signature(), l.Signature()) {
		t.Fatal("re-encoded link differs")
	}
	if body := l.Body(); body.Validate() != nil {
		err := body.Validate()
		t.Fatalf("accepted an invalid body: %v", err)
	}
	_ = l.VerifySignature() // must not panic
	_, _ = NewVerifier(4).Verify([]Link{l}, l.Body().Audience, "a.b", 0, t0, nil)
}

// FuzzParseConstraintsJSON: decoding constraints never panics, and what it
// accepts normalises to constraints allowing the same (each narrows the
// other).
func FuzzParseConstraintsJSON(f *testing.F) {
	for _, s := range []string{
		`{"allow":["user.*"],"forbid":["user.delete"],"nouns":["*"],"verbs":["read","list"],"max_effect":"mutate"}`,
		`{"allow":["**"],"nouns":["api.**"],"verbs":["*"],"max_effect":"privileged"}`,
		`{"allow":[],"nouns":[],"verbs":[],"max_effect":"read_only"}`,
		`{"allow":["a.*","*.b","a.b"],"nouns":["a","*","a.*"],"verbs":["x","x"],"max_effect":"mutate_state"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConstraintsJSON(data)
		if err != nil {
			return
		}
		n, err := c.Normalize()
		if err != nil {
			if errors.Is(err, ErrTooComplex) {
				return
			}
			t.Fatal(err)
		}
		if err := n.Narrows(c); err != nil {
			t.Fatalf("normalised %+v does not narrow %+v: %v", n, c, err)
		}
		if err := c.Narrows(n); err != nil {
			t.Fatalf("%+v does not narrow its normalised %+v: %v", c, n, err)
		}
		if _, err := Issue(alice.priv, Grant{Audience: bob.pub, Constraints: c, NotBefore: t0, NotAfter: t0 + int64(time.Hour)}, nil, nil); err != nil &&
			!errors.Is(err, ErrMalformed) {
			t.Fatalf("issuing valid constraints: %v", err)
		}
	})
}

// parseConstraintsJSON decodes constraints from JSON, refusing unknown
// fields and trailing data, and validates them.
func parseConstraintsJSON(data []byte) (Constraints, error) {
	if len(data) > limits.MaxTokenBytes {
		return Constraints{}, fmt.Errorf("%w: constraints document too large", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Constraints
	if err := dec.Decode(&c); err != nil {
		return Constraints{}, fmt.Errorf("%w: constraints: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Constraints{}, fmt.Errorf("%w: constraints: trailing data", ErrMalformed)
	}
	if err := c.Validate(); err != nil {
		return Constraints{}, err
	}
	return c, nil
}
