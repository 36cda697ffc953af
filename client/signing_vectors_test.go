package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// The signing test vectors of docs/SIGNING.md: fixed keys and inputs, the
// exact bytes, hashes and signatures the code produces. go test
// ./client -run TestSigningVectors -update rewrites the file; the test
// fails whenever the code and the file disagree.
var updateVectors = flag.Bool("update", false, "rewrite testdata/signing/vectors.json")

const vectorsFile = "testdata/signing/vectors.json"

// Key is a key pair derived from a fixed 32-byte Ed25519 seed.
type vectorKey struct {
	Seed      string `json:"seed_hex"`
	PublicKey string `json:"public_key_hex"`
	KeyID     string `json:"key_id"`
}

type invocationVector struct {
	Name    string    `json:"name"`
	Invoker vectorKey `json:"invoker"`
	// Invocations are the input, in the batch's JSON form (payload and
	// chain entries base64).
	Invocations []invocation.Invocation `json:"invocations"`
	BodyHex     string                  `json:"body_hex"`
	BodySHA256  string                  `json:"body_sha256_hex"`
	Signature   string                  `json:"signature_hex"`
	// Request is the exact JSON to POST to /v1/invoke.
	Request json.RawMessage `json:"request_json"`
}

type linkVector struct {
	Name           string    `json:"name"`
	Issuer         vectorKey `json:"issuer"`
	Audience       vectorKey `json:"audience"`
	NonceHex       string    `json:"nonce_hex"`
	Allow          []string  `json:"allow"`
	Forbid         []string  `json:"forbid"`
	Nouns          []string  `json:"nouns"`
	Verbs          []string  `json:"verbs"`
	MaxEffect      string    `json:"max_effect"`
	NotBefore      int64     `json:"not_before"`
	NotAfter       int64     `json:"not_after"`
	MaxUses        uint64    `json:"max_uses"`
	ParentHex      string    `json:"parent_hex"`
	Depth          uint8     `json:"depth"`
	BodyHex        string    `json:"body_hex"`
	Hash           string    `json:"hash_hex"`
	SignedMessage  string    `json:"signed_message_hex"`
	Signature      string    `json:"signature_hex"`
	EnvelopeHex    string    `json:"envelope_hex"`
	Token          string    `json:"token"`
	FromParentName string    `json:"parent_vector,omitempty"`
}

type signingVectors struct {
	Comment     string             `json:"comment"`
	Links       []linkVector       `json:"links"`
	Invocations []invocationVector `json:"invocations"`
}

func seedKey(t *testing.T, seedByte byte) (vectorKey, ed25519.PrivateKey) {
	seed := bytes.Repeat([]byte{seedByte}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return vectorKey{Seed: hex.EncodeToString(seed), PublicKey: hex.EncodeToString(pub), KeyID: string(principal.IDOf(pub))}, priv
}

func keyOf(t *testing.T, k vectorKey) ed25519.PrivateKey {
	seed, err := hex.DecodeString(k.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("seed %q: %v", k.Seed, err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// linkInputs are the vectors' fixed inputs: a root link and a child.
func linkInputs(t *testing.T) []linkVector {
	alice, _ := seedKey(t, 0x01)
	bob, _ := seedKey(t, 0x02)
	carol, _ := seedKey(t, 0x03)
	root := linkVector{Name: "root", Issuer: alice, Audience: bob, NonceHex: hex.EncodeToString(bytes.Repeat([]byte{0xaa}, 16)),
		Allow: []string{"user.*"}, Forbid: []string{"user.delete"}, Nouns: []string{"*"}, Verbs: []string{"*"}, MaxEffect: "mutate",
		NotBefore: 1767225600000000000, NotAfter: 1798761600000000000, MaxUses: 100}
	child := linkVector{Name: "child", Issuer: bob, Audience: carol, NonceHex: hex.EncodeToString(bytes.Repeat([]byte{0xbb}, 16)),
		Allow: []string{"user.read"}, Forbid: []string{}, Nouns: []string{"user"}, Verbs: []string{"read"}, MaxEffect: "read_only",
		NotBefore: 1767225600000000000, NotAfter: 1767312000000000000, MaxUses: 10, Depth: 1, FromParentName: "root"}
	return []linkVector{root, child}
}

// computeLink fills a link vector's outputs from its inputs with the code.
func computeLink(t *testing.T, v linkVector, parent *linkVector) (linkVector, delegation.Link) {
	t.Helper()
	level, err := capability.ParseLevel(v.MaxEffect)
	if err != nil {
		t.Fatal(err)
	}
	c, err := delegation.NewConstraints(v.Allow, v.Forbid, v.Nouns, v.Verbs, level)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := hex.DecodeString(v.NonceHex)
	issuer, audience := keyOf(t, v.Issuer), keyOf(t, v.Audience)
	body := delegation.Body{Version: delegation.Version, Nonce: nonce, Issuer: issuer.Public().(ed25519.PublicKey), IssuerID: principal.KeyID(v.Issuer.KeyID),
		Audience: audience.Public().(ed25519.PublicKey), AudienceID: principal.KeyID(v.Audience.KeyID), Constraints: c,
		NotBefore: v.NotBefore, NotAfter: v.NotAfter, MaxUses: v.MaxUses, Depth: v.Depth}
	if parent != nil {
		h, err := delegation.ParseHash(parent.Hash)
		if err != nil {
			t.Fatal(err)
		}
		body.Parent = h
	}
	l, err := delegation.Sign(body, issuer)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := l.MarshalBinary()
	tok, _ := delegation.Encode(l)
	v.ParentHex = hex.EncodeToString(body.Parent[:])
	v.BodyHex, v.Hash = hex.EncodeToString(l.BodyBytes()), l.Hash().String()
	v.SignedMessage = hex.EncodeToString(append([]byte("cnv/delegation/link/v1\n"), l.BodyBytes()...))
	v.Signature, v.EnvelopeHex, v.Token = hex.EncodeToString(l.Signature()), hex.EncodeToString(env), string(tok)
	return v, l
}

// invocationInputs: a minimal batch, and a full one whose invocation
// carries every field, the vectors' two links as its chain.
func invocationInputs(t *testing.T, links []linkVector) []invocationVector {
	admin, _ := seedKey(t, 0x04)
	carol, _ := seedKey(t, 0x03)
	minimal := invocationVector{Name: "minimal", Invoker: admin, Invocations: []invocation.Invocation{{Capability: "user.read", RequestID: "r-0001"}}}
	full := invocationVector{Name: "full", Invoker: carol, Invocations: []invocation.Invocation{{
		Capability: "user.read@1.0.0", Args: []invocation.Arg{{Name: "name", Value: "alice"}, {Name: "name", Value: "bob"}},
		Positional: []string{"extra"}, Payload: []byte(`{"note":"hello"}`), Tenant: "acme", CorrelationID: "c-42",
		RequestID: "r-0002", Chain: [][]byte{[]byte(links[0].Token), []byte(links[1].Token)}, DryRun: true,
	}, {Capability: "user.create", Args: []invocation.Arg{{Name: "name", Value: "dave"}}, RequestID: "r-0003"}}}
	return []invocationVector{minimal, full}
}

func computeInvocation(t *testing.T, v invocationVector) invocationVector {
	t.Helper()
	s, err := invocation.Sign(keyOf(t, v.Invoker), v.Invocations)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(s.Body)
	v.BodyHex, v.BodySHA256, v.Signature = hex.EncodeToString(s.Body), hex.EncodeToString(sum[:]), hex.EncodeToString(s.Signature)
	req, _ := json.Marshal(map[string]string{"body": base64.StdEncoding.EncodeToString(s.Body), "signature": base64.StdEncoding.EncodeToString(s.Signature)})
	v.Request = req
	return v
}

func computeVectors(t *testing.T) signingVectors {
	out := signingVectors{Comment: "docs/SIGNING.md explains every field; client/signing_vectors_test.go checks them against the code"}
	var prev *linkVector
	for _, in := range linkInputs(t) {
		v, _ := computeLink(t, in, prev)
		out.Links = append(out.Links, v)
		prev = &out.Links[len(out.Links)-1]
	}
	for _, in := range invocationInputs(t, out.Links) {
		out.Invocations = append(out.Invocations, computeInvocation(t, in))
	}
	return out
}

func TestSigningVectors(t *testing.T) {
	got := computeVectors(t)
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *updateVectors {
		if err := os.WriteFile(vectorsFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (go test ./client -run TestSigningVectors -update writes it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Fatalf("%s differs from what the code computes; the signing format changed (or run -update after a deliberate change)", vectorsFile)
	}
	checkVectorsVerify(t, got)
}

// checkVectorsVerify checks the recorded outputs the way a node does:
// signatures verify over the documented messages, and the decoders
// accept the bytes.
func checkVectorsVerify(t *testing.T, vs signingVectors) {
	for _, v := range vs.Links {
		pub, _ := hex.DecodeString(v.Issuer.PublicKey)
		msg, _ := hex.DecodeString(v.SignedMessage)
		sig, _ := hex.DecodeString(v.Signature)
		body, _ := hex.DecodeString(v.BodyHex)
		if sum := sha256.Sum256(body); !ed25519.Verify(pub, msg, sig) || hex.EncodeToString(sum[:]) != v.Hash {
			t.Errorf("link %s: signature or hash does not verify", v.Name)
		}
		if l, err := delegation.Decode([]byte(v.Token)); err != nil || l.VerifySignature() != nil || l.Hash().String() != v.Hash {
			t.Errorf("link %s: token does not decode: %v", v.Name, err)
		}
	}
	for _, v := range vs.Invocations {
		var s invocation.Signed
		if err := json.Unmarshal(v.Request, &s); err != nil {
			t.Fatal(err)
		}
		pub, _ := hex.DecodeString(v.Invoker.PublicKey)
		lookup := func(id principal.KeyID) (ed25519.PublicKey, bool) { return pub, string(id) == v.Invoker.KeyID }
		if b, err := s.Open(lookup, nil); err != nil || len(b.Invocations) != len(v.Invocations) {
			t.Errorf("invocation %s: a node would refuse it: %v", v.Name, err)
		}
	}
}

// The Python client of docs/examples, written from docs/SIGNING.md alone,
// reproduces every vector (skipped where python3 with the cryptography
// package is not installed).
func TestSigningVectorsFromPython(t *testing.T) {
	if err := exec.Command("python3", "-c", "import cryptography").Run(); err != nil {
		t.Skip("python3 with the cryptography package is not installed")
	}
	out, err := exec.Command("python3", "../docs/examples/check_vectors.py", vectorsFile).CombinedOutput()
	if err != nil || strings.Contains(string(out), "MISMATCH") {
		t.Fatalf("docs/examples/check_vectors.py: %v\n%s", err, out)
	}
}
