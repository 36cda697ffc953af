package cert_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/ledger/cert/certtest"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the code")

const vectorsFile = "testdata/vectors.json"

// vectors is docs/CERTIFICATES.md's worked example: a node key from a fixed
// seed, a ledger of five decisions appended as one Raft entry, and the
// answers for its allow at index 3 and its deny at index 1.
type vectors struct {
	NodeSeed      string          `json:"node_seed"`
	NodePublicKey string          `json:"node_public_key"`
	NodeKeyID     string          `json:"node_key_id"`
	Now           int64           `json:"now"`
	Leaves        []string        `json:"leaves"`
	Root          string          `json:"root"`
	Checkpoint    string          `json:"checkpoint"`
	Signature     string          `json:"signature"`
	Certificate   json.RawMessage `json:"certificate"`
	Receipt       json.RawMessage `json:"receipt"`
}

func makeVectors(t *testing.T) vectors {
	seed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
	node := ed25519.NewKeyFromSeed(seed)
	holder := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x07}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	st, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []event.Event
	for i, c := range []capability.Path{"user.read", "user.delete", "user.read", "user.create", "user.read"} {
		s := certtest.Spec{Capability: c, Effects: capability.Effects{capability.ReadOnly}, Holder: holder, AgentID: "alice",
			RequestID: "req-" + string(rune('a'+i)), CorrelationID: "example"}
		if c == "user.create" {
			s.Effects = capability.Effects{capability.MutateState}
		}
		if c == "user.delete" {
			s.Decision = policy.Deny
		}
		evs = append(evs, certtest.Event(s))
	}
	const t0 = 1796400000000000000
	res, err := st.AppendBatch(evs, ledger.AppendOptions{RaftIndex: 12, Time: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := cert.SignHead(res.Proofs.Size(), res.Proofs.Root(), node)
	if err != nil {
		t.Fatal(err)
	}
	v := vectors{NodeSeed: hex.EncodeToString(seed), NodePublicKey: hex.EncodeToString(node.Public().(ed25519.PublicKey)),
		NodeKeyID: string(principal.IDOf(node.Public().(ed25519.PublicKey))), Now: t0 + 1,
		Root: hex.EncodeToString(h.Root), Checkpoint: string(h.Text), Signature: hex.EncodeToString(h.Signature)}
	for i := range res.Events {
		leaf, _ := res.Proofs.LeafHash(uint64(i))
		v.Leaves = append(v.Leaves, hex.EncodeToString(leaf))
	}
	answer := func(i uint64) json.RawMessage {
		proof, err := res.Proofs.Inclusion(i)
		if err != nil {
			t.Fatal(err)
		}
		var a certificate.Answer
		if err := cert.Issue(&a, res.Events[i].Event, res.Events[i].Canonical, proof, h); err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(&a, "  ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v.Certificate, v.Receipt = answer(3), answer(1)
	return v
}

// The worked example is what the code makes, and it verifies.
func TestVectors(t *testing.T) {
	v := makeVectors(t)
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (go test ./ledger/cert -run TestVectors -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the code makes (if the format changed on purpose, rerun with -update and update docs/CERTIFICATES.md)", vectorsFile)
	}
	pub, _ := hex.DecodeString(v.NodePublicKey)
	tr := certificate.NewTrust(ed25519.PublicKey(pub))
	for _, doc := range []json.RawMessage{v.Certificate, v.Receipt} {
		if _, err := cert.VerifyDocument(doc, false, tr, v.Now); err != nil {
			t.Fatalf("vector does not verify: %v", err)
		}
	}
}

// docs/examples/cnv_verify.py, written from docs/CERTIFICATES.md alone,
// verifies both vectors and refuses a forged one (skipped where python3
// with the cryptography package is not installed).
func TestPythonVerifier(t *testing.T) {
	if err := exec.Command("python3", "-c", "import cryptography").Run(); err != nil {
		t.Skip("python3 with the cryptography package is not installed")
	}
	out, err := exec.Command("python3", "../../docs/examples/check_certificates.py", vectorsFile).CombinedOutput()
	if err != nil {
		t.Fatalf("check_certificates.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// openssl checks the head's signature over the signed bytes as they are,
// with the node's public key (skipped without openssl).
func TestOpenSSLVerifiesTheHead(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	v := makeVectors(t)
	var a certificate.Answer
	if err := json.Unmarshal(v.Certificate, &a); err != nil {
		t.Fatal(err)
	}
	pub, _ := hex.DecodeString(v.NodePublicKey)
	dir := t.TempDir()
	pubFile, textFile, sigFile := filepath.Join(dir, "node.pub"), filepath.Join(dir, "signed"), filepath.Join(dir, "sig")
	pemBytes, err := principal.MarshalPublicPEM(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pubFile, pemBytes, 0o600)
	os.WriteFile(textFile, a.SignedBytes, 0o600)
	os.WriteFile(sigFile, a.Signature, 0o600)
	verify := func() ([]byte, error) {
		return exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-in", textFile, "-sigfile", sigFile).CombinedOutput()
	}
	if out, err := verify(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	a.SignedBytes[len(a.SignedBytes)-2] ^= 1
	os.WriteFile(textFile, a.SignedBytes, 0o600)
	if out, err := verify(); err == nil {
		t.Fatalf("openssl accepted a changed text: %s", out)
	}
}
