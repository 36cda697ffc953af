package cert_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/ledger/cert/certtest"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano()

func key(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func trustOf(keys ...ed25519.PrivateKey) certificate.Trust {
	tr := certificate.Trust{}
	for _, k := range keys {
		pub := k.Public().(ed25519.PublicKey)
		tr[principal.IDOf(pub)] = pub
	}
	return tr
}

// decisions appends n decisions to a real ledger in two batches (the
// second with every kind of optional field) and returns each one's
// answer, proven from the batch proofs (first batch) or the store (the
// second), under heads signed by node.
func decisions(t *testing.T, node ed25519.PrivateKey, n int) []certificate.Answer {
	t.Helper()
	st, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	holder := key(t, 9).Public().(ed25519.PublicKey)
	c := delegation.Unrestricted()
	var out []certificate.Answer
	for batch := 0; batch < 2; batch++ {
		var evs []event.Event
		for i := 0; i < n; i++ {
			s := certtest.Spec{Capability: "user.create", Effects: capability.Effects{capability.MutateState},
				Holder: holder, RequestID: fmt.Sprintf("r-%d-%d", batch, i), Time: t0, CorrelationID: "corr"}
			if i%3 == 1 {
				s.Decision = policy.Deny
			}
			ev := certtest.Event(s)
			if batch == 1 {
				pd := ev.Data.(event.PolicyDecision)
				link := strings.Repeat("ab", 32)
				pd.ChainLinks, pd.Constraints = []string{link}, &c
				pd.UseCounts = []event.UseCount{{Link: link, Used: uint64(i + 1), Max: 100}}
				pd.Request.KeyID = principal.IDOf(key(t, 10).Public().(ed25519.PublicKey))
				pd.Request.ChainDepth = 1
				pd.Command, pd.ArgsDigest = "user.create --name x", strings.Repeat("cd", 32)
				pd.Result.Reason, pd.Result.Suggestion = "because", "ask"
				ev.Data = pd
			}
			evs = append(evs, ev)
		}
		res, err := st.AppendBatch(evs, ledger.AppendOptions{RaftIndex: uint64(batch + 1), Time: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ap := range res.Events {
			var proof [][]byte
			var h cert.Head
			if batch == 0 {
				if proof, err = res.Proofs.Inclusion(ap.Index); err != nil {
					t.Fatal(err)
				}
				h, err = cert.SignHead(res.Proofs.Size(), res.Proofs.Root(), node)
			} else {
				ip, perr := st.InclusionProof(ap.Index, res.Head.Size)
				if perr != nil {
					t.Fatal(perr)
				}
				for _, x := range ip.Proof {
					proof = append(proof, x)
				}
				h, err = cert.SignHead(ip.Size, ip.Root, node)
			}
			if err != nil {
				t.Fatal(err)
			}
			var a certificate.Answer
			if err := cert.Issue(&a, ap.Event, ap.Canonical, proof, h); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
	}
	return out
}

func doc(t testing.TB, a certificate.Answer) []byte {
	b, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryAnswerVerifies(t *testing.T) {
	node := key(t, 1)
	answers := decisions(t, node, 7)
	for i, a := range answers {
		c, err := cert.VerifyDocument(doc(t, a), false, trustOf(node), t0+1)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if c.View.LedgerIndex != uint64(i) || c.View.TreeSize != uint64(7*(1+i/7)) || c.View.Signer != principal.IDOf(node.Public().(ed25519.PublicKey)) {
			t.Fatalf("answer %d: view %+v", i, c.View)
		}
		if (a.Certificate != nil) != c.View.Allowed() || (a.Receipt != nil) == c.View.Allowed() {
			t.Fatalf("answer %d: certificate %v receipt %v for %s", i, a.Certificate != nil, a.Receipt != nil, c.View.Decision)
		}
		mp, err := codec.Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.VerifyDocument(mp, true, trustOf(node), t0+1); err != nil {
			t.Fatalf("answer %d as msgpack: %v", i, err)
		}
	}
}

// Every field a document shows is covered: changing any one of them (but
// duplicate, which says how the answer was delivered) makes it invalid.
func TestEveryFieldIsCovered(t *testing.T) {
	node := key(t, 1)
	answers := decisions(t, node, 3)
	for _, i := range []int{0, 1, 4} { // an allow, a deny, a delegated allow with every optional field
		base := doc(t, answers[i])
		tree := decodeNumbers(t, base)
		paths := leaves("", tree)
		sort.Strings(paths)
		if len(paths) < 30 {
			t.Fatalf("answer %d shows only %d fields: %v", i, len(paths), paths)
		}
		for _, p := range paths {
			if p == "duplicate" {
				continue
			}
			m := decodeNumbers(t, base)
			mutate(m, strings.Split(p, "."))
			forged, _ := json.Marshal(m)
			_, err := cert.VerifyDocument(forged, false, trustOf(node), t0+1)
			if err == nil {
				t.Fatalf("answer %d: changing %s still verifies", i, p)
			}
		}
	}
}

// leaves lists the paths of a JSON value's scalar fields (an array counts
// as one).
func leaves(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{prefix}
	}
	var out []string
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, leaves(p, x)...)
	}
	return out
}

func mutate(m map[string]any, path []string) {
	if len(path) > 1 {
		mutate(m[path[0]].(map[string]any), path[1:])
		return
	}
	switch x := m[path[0]].(type) {
	case string:
		if len(x) > 4 && isBase64ish(x) {
			m[path[0]] = "AAAA" + x[4:]
			if m[path[0]] == x {
				m[path[0]] = "BBBB" + x[4:]
			}
		} else {
			m[path[0]] = x + "x"
		}
	case json.Number:
		n, _ := strconv.ParseUint(string(x), 10, 64)
		m[path[0]] = json.Number(strconv.FormatUint(n+1, 10))
	case bool:
		m[path[0]] = !x
	case []any:
		m[path[0]] = append(x, x[0])
	}
}

func decodeNumbers(t *testing.T, b []byte) map[string]any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func isBase64ish(s string) bool { return !strings.ContainsAny(s, " .-_") }

func TestForgedAgentIsNamed(t *testing.T) {
	node := key(t, 1)
	a := decisions(t, node, 1)[0]
	a.Certificate.AgentID = "mallory"
	_, err := cert.VerifyDocument(doc(t, a), false, trustOf(node), t0+1)
	if !errors.Is(err, certificate.ErrFieldMismatch) || !strings.Contains(err.Error(), "certificate.agent_id") || !strings.Contains(err.Error(), `"mallory"`) {
		t.Fatalf("forged agent: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	node, other := key(t, 1), key(t, 2)
	answers := decisions(t, node, 4)
	good := answers[2]
	cases := []struct {
		name  string
		edit  func(a *certificate.Answer)
		trust certificate.Trust
		now   int64
		want  error
	}{
		{"untrusted signer", func(*certificate.Answer) {}, trustOf(other), t0, certificate.ErrUntrustedSigner},
		{"flipped signature", func(a *certificate.Answer) { a.Signature[5] ^= 1 }, nil, t0, certificate.ErrBadSignature},
		{"signer renamed", func(a *certificate.Answer) { a.Signer = string(principal.IDOf(other.Public().(ed25519.PublicKey))) }, trustOf(node, other), t0, certificate.ErrBadSignature},
		{"flipped event byte", func(a *certificate.Answer) { a.Event[len(a.Event)-3] ^= 1 }, nil, t0, certificate.ErrBadProof},
		{"another index", func(a *certificate.Answer) { a.LedgerIndex = 1 }, nil, t0, certificate.ErrBadProof},
		{"proof hash flipped", func(a *certificate.Answer) { a.InclusionProof[0][0] ^= 1 }, nil, t0, certificate.ErrBadProof},
		{"proof cut", func(a *certificate.Answer) { a.InclusionProof = a.InclusionProof[:1] }, nil, t0, certificate.ErrBadProof},
		{"another answer's event", func(a *certificate.Answer) { a.Event = answers[3].Event }, nil, t0, certificate.ErrBadProof},
		{"tree size", func(a *certificate.Answer) { a.TreeSize++ }, nil, t0, certificate.ErrFieldMismatch},
		{"no event", func(a *certificate.Answer) { a.Event = nil }, nil, t0, certificate.ErrInvalid},
		{"an error answer", func(a *certificate.Answer) { a.Error = certificate.ErrInvalid }, nil, t0, certificate.ErrInvalid},
		{"expired", func(*certificate.Answer) {}, nil, t0 + int64(certificate.DefaultTTL) + 1, certificate.ErrExpired},
		{"not yet valid", func(*certificate.Answer) {}, nil, t0 - 1, certificate.ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a certificate.Answer
			if err := json.Unmarshal(doc(t, good), &a); err != nil {
				t.Fatal(err)
			}
			tc.edit(&a)
			tr := tc.trust
			if tr == nil {
				tr = trustOf(node)
			}
			if _, err := cert.VerifyDocument(doc(t, a), false, tr, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A receipt has no validity window: it states a decision.
	if _, err := cert.VerifyDocument(doc(t, answers[1]), false, trustOf(node), t0+int64(48*time.Hour)); err != nil {
		t.Fatalf("receipt two days later: %v", err)
	}
	for name, raw := range map[string]string{
		"unknown field":        strings.Replace(string(doc(t, good)), `{"request_id"`, `{"extra":1,"request_id"`, 1),
		"unknown nested field": strings.Replace(string(doc(t, good)), `"certificate":{`, `"certificate":{"extra":1,`, 1),
		"duplicate key":        strings.Replace(string(doc(t, good)), `{"request_id"`, `{"signer":"x","request_id"`, 1),
		"not json":             "{",
		"empty":                "{}",
	} {
		if _, err := cert.VerifyDocument([]byte(raw), false, trustOf(node), t0); !errors.Is(err, certificate.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A node's signature over another text is no head: the checkpoint text
// must parse.
func TestSignatureOverOtherTextRefused(t *testing.T) {
	node := key(t, 1)
	a := decisions(t, node, 1)[0]
	a.SignedBytes = []byte("not a checkpoint")
	a.Signature = ed25519.Sign(node, a.SignedBytes)
	if _, err := cert.VerifyDocument(doc(t, a), false, trustOf(node), t0); !errors.Is(err, certificate.ErrInvalid) {
		t.Fatalf("signed non-checkpoint: %v", err)
	}
}

func FuzzVerifyDocument(f *testing.F) {
	node := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	good := certtest.JSON(certtest.Spec{Capability: "user.create", Holder: node.Public().(ed25519.PublicKey), Time: t0}, node)
	f.Add(good, false)
	mp, _ := json.Marshal(map[string]any{"event": []byte{0x80}})
	f.Add(mp, false)
	f.Add([]byte{0x80}, true)
	tr := trustOf(node)
	f.Fuzz(func(t *testing.T, b []byte, msgpack bool) {
		c, err := cert.VerifyDocument(b, msgpack, tr, t0)
		if err != nil {
			return
		}
		again, err := json.Marshal(&c.Answer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.VerifyDocument(again, false, tr, t0); err != nil {
			t.Fatalf("a verified document's own answer does not verify: %v", err)
		}
	})
}
