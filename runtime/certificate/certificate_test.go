package certificate

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()

func params() Params {
	return Params{
		Capability:    capability.Ref{Path: "user.create", Version: ""},
		Effects:       []capability.Metadata{capability.NewMetadata(capability.MutateState), capability.NewMetadata(capability.NetworkAccess)},
		Input:         refSchema("UserSpec"),
		Output:        refSchema("User"),
		AgentID:       "bob",
		AgentType:     principal.Agent,
		KeyID:         "k_0000000000000001",
		Tenant:        "acme",
		CorrelationID: "swarm-request-42",
		RequestID:     "r1",
		IssuedAt:      t0,
	}
}

func allow() policy.Result {
	return policy.Result{Decision: policy.Allow, EvaluatedRules: []string{"r1", "r2"}, MatchedRule: "r1", PolicyHash: "ph"}
}

func newSigner(t testing.TB) (*Signer, ed25519.PublicKey) {
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv), pub
}

func verified(t testing.TB, p Params, s *Signer) Certificate[Verified] {
	t.Helper()
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := CheckPolicy(c, allow())
	if err != nil {
		t.Fatal(err)
	}
	cc, err := CheckCapability(pc, Available{capability.FromPath("user.create")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(cc, p.IssuedAt, Placement{LedgerIndex: 7, LeafHash: "ab"}, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A certificate passes every check in order and ends Verified.
func TestFullChain(t *testing.T) {
	s, _ := newSigner(t)
	v := verified(t, params(), s)
	if !v.Valid() || v.CapabilityID() != capability.FromPath("user.create") || !v.IsValidAt(t0) {
		t.Fatalf("%+v", v.Body())
	}
	if v.AgentID() != "bob" || v.Tenant() != "acme" || len(v.ID()) != len("cert_")+24 {
		t.Errorf("accessors: %q %q %q", v.AgentID(), v.Tenant(), v.ID())
	}
	if b := v.Body(); b.LedgerIndex != 7 || b.Signer != s.KeyID() || b.State != StateVerified {
		t.Errorf("body: %+v", b)
	}
}

// A deny stops the chain at Unchecked.
func TestPolicyDenyBlocks(t *testing.T) {
	c, _ := New(params())
	_, err := CheckPolicy(c, policy.Result{Decision: policy.Deny, Reason: "nope"})
	if !errors.Is(err, ErrPolicyDenied) {
		t.Fatal(err)
	}
	if !c.Valid() {
		t.Error("the unchecked certificate must remain usable")
	}
}

// require_approval must not silently allow.
func TestRequireApprovalBlocks(t *testing.T) {
	c, _ := New(params())
	_, err := CheckPolicy(c, policy.Result{Decision: policy.RequireApproval, Approver: "sec"})
	if !errors.Is(err, ErrApprovalRequired) {
		t.Fatal(err)
	}
}

// A capability that is not available stops the chain.
func TestCapabilityNotAvailable(t *testing.T) {
	c, _ := New(params())
	pc, _ := CheckPolicy(c, allow())
	_, err := CheckCapability(pc, Available{capability.FromPath("user.read")})
	if !errors.Is(err, ErrCapabilityNotAvailable) {
		t.Fatal(err)
	}
}

// The registry sees the capability's effect level (max over its effects).
func TestCapabilityCheckSeesLevel(t *testing.T) {
	c, _ := New(params())
	pc, _ := CheckPolicy(c, allow())
	var got capability.Level
	_, err := CheckCapability(pc, regFunc(func(id capability.ID, p capability.Path, l capability.Level) error {
		got = l
		return nil
	}))
	if err != nil || got != capability.LevelNetwork {
		t.Fatalf("level %s err %v", got, err)
	}
}

type regFunc func(capability.ID, capability.Path, capability.Level) error

func (f regFunc) CheckCapability(id capability.ID, p capability.Path, l capability.Level) error {
	return f(id, p, l)
}

// A certificate expires at its TTL (the clock is given, nothing sleeps).
func TestExpiration(t *testing.T) {
	p := params()
	p.TTL = time.Millisecond
	c, _ := New(p)
	pc, _ := CheckPolicy(c, allow())
	cc, _ := CheckCapability(pc, Available{capability.FromPath("user.create")})
	s, _ := newSigner(t)
	if _, err := Verify(cc, t0+int64(10*time.Millisecond), Placement{}, s); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := Verify(cc, t0-1, Placement{}, s); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("before issue: %v", err)
	}
	// Exactly at expiry is still valid (the window is inclusive).
	if _, err := Verify(cc, t0+int64(time.Millisecond), Placement{}, s); err != nil {
		t.Fatalf("at expiry: %v", err)
	}
}

// An export/import round trip keeps the fields.
func TestExportImportRoundTrip(t *testing.T) {
	s, pub := newSigner(t)
	v := verified(t, params(), s)
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Import(data, NewTrust(pub), t0+1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Body(), v.Body()) {
		t.Errorf("body changed:\n%+v\n%+v", back.Body(), v.Body())
	}
	if _, err := Import(data, NewTrust(pub), t0+int64(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired import: %v", err)
	}
}

// The original imported any JSON with a future expiry as Verified.
func TestImportRejectsUnsignedAndForged(t *testing.T) {
	s, pub := newSigner(t)
	v := verified(t, params(), s)
	exp, _ := v.Export()
	trust := NewTrust(pub)

	unsigned := exp
	unsigned.Signature = nil
	if _, err := importSigned(t, unsigned, trust); !errors.Is(err, ErrBadSignature) {
		t.Errorf("unsigned: %v", err)
	}
	// A readable-copy edit is ignored; a signed-bytes edit breaks the signature.
	edited := exp
	edited.Certificate.AgentID = "mallory"
	if c, err := importSigned(t, edited, trust); err != nil || c.AgentID() != "bob" {
		t.Errorf("readable copy must be ignored: %v %q", err, c.AgentID())
	}
	flipped := exp
	flipped.SignedBytes = append([]byte(nil), exp.SignedBytes...)
	flipped.SignedBytes[len(flipped.SignedBytes)-3] ^= 1
	if _, err := importSigned(t, flipped, trust); err == nil {
		t.Error("flipped signed bytes accepted")
	}
	// Signed by a key outside the trust set.
	other, _ := newSigner(t)
	v2 := verified(t, params(), other)
	exp2, _ := v2.Export()
	if _, err := importSigned(t, exp2, trust); !errors.Is(err, ErrUntrustedSigner) {
		t.Errorf("untrusted signer: %v", err)
	}
	// Signed bytes claiming a signer in the trust set, signed by another key.
	forged := exp2
	forged.Signer = s.KeyID()
	if _, err := importSigned(t, forged, trust); !errors.Is(err, ErrUntrustedSigner) && !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged signer: %v", err)
	}
	if _, err := Import([]byte(`{"certificate":{"expires_at":99999999999999999999}}`), trust, t0); err == nil {
		t.Error("bare JSON accepted")
	}
}

func importSigned(t *testing.T, s Signed, trust Trust) (Certificate[Verified], error) {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return Import(data, trust, t0+1)
}

// The state is part of the signed bytes: bytes signed in another state do
// not import as Verified even with a valid signature.
func TestSignedStateMatters(t *testing.T) {
	pub, priv, _ := principal.Generate(nil)
	c, _ := New(params())
	b := c.Body()
	b.Signer = principal.IDOf(pub)
	msg := mustEnvelope(t, &b)
	sig := ed25519.Sign(priv, msg)
	if _, err := ImportSigned(msg, sig, NewTrust(pub), t0); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("unchecked-state bytes: %v", err)
	}
}

// The JSON's signed_bytes/signature verify with plain crypto/ed25519.
func TestStandardEd25519Verifies(t *testing.T) {
	s, pub := newSigner(t)
	data, _ := json.Marshal(verified(t, params(), s))
	var w struct {
		SignedBytes []byte `json:"signed_bytes"`
		Signature   []byte `json:"signature"`
		Signer      string `json:"signer"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, w.SignedBytes, w.Signature) || w.Signer != string(principal.IDOf(pub)) {
		t.Fatal("does not verify with crypto/ed25519")
	}
}

// Effects keep their order.
func TestEffectsOrder(t *testing.T) {
	c, _ := New(params())
	e := c.Body().Effects
	if len(e) != 2 || e[0].EffectType != capability.MutateState || e[1].EffectType != capability.NetworkAccess {
		t.Fatalf("%+v", e)
	}
}

// The correlation id is kept.
func TestCorrelationKept(t *testing.T) {
	a, _ := New(params())
	p := params()
	p.RequestID = "r2"
	b, _ := New(p)
	if a.Body().CorrelationID != "swarm-request-42" || b.Body().CorrelationID != "swarm-request-42" {
		t.Fatal("correlation")
	}
	if a.ID() == b.ID() {
		t.Error("different requests share a certificate id")
	}
}

// The policy trace names the matched rule.
func TestPolicyTrace(t *testing.T) {
	c, _ := New(params())
	pc, _ := CheckPolicy(c, allow())
	tr := pc.Body().Trace
	if tr.PolicyHash != "ph" || len(tr.EvaluatedRules) != 2 || tr.MatchedRule != "r1" || tr.Decision != policy.Allow {
		t.Fatalf("%+v", tr)
	}
}

// Schema hashes are deterministic and equal for equal schemas.
func TestSchemaHashes(t *testing.T) {
	a, _ := New(params())
	b, _ := New(params())
	if a.Body().InputSchemaHash != b.Body().InputSchemaHash || len(a.Body().InputSchemaHash) != 32 {
		t.Fatal("schema hash")
	}
	if a.Body().InputSchemaHash == a.Body().OutputSchemaHash {
		t.Error("different schemas, same hash")
	}
}

// The zero value is not a certificate.
func TestZeroValue(t *testing.T) {
	var z Certificate[Verified]
	if z.Valid() || z.ID() != "" || z.IsValidAt(t0) {
		t.Fatal("zero value looks valid")
	}
	if _, err := z.Export(); !errors.Is(err, ErrNotVerified) {
		t.Fatal("zero value exports")
	}
	if _, err := CheckPolicy(Certificate[Unchecked]{}, allow()); !errors.Is(err, ErrInvalid) {
		t.Fatal("zero unchecked certificate advanced")
	}
}

func mustEnvelope(t *testing.T, b *Body) []byte {
	t.Helper()
	msg, err := marshalEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// A transition consumes its input: the same certificate cannot be advanced
// twice.
func TestTransitionConsumes(t *testing.T) {
	c, _ := New(params())
	if _, err := CheckPolicy(c, allow()); err != nil {
		t.Fatal(err)
	}
	if c.Valid() {
		t.Error("consumed certificate still valid")
	}
	if _, err := CheckPolicy(c, allow()); !errors.Is(err, ErrInvalid) {
		t.Errorf("advanced twice: %v", err)
	}
}

// refSchema is a reference schema to a named type.
func refSchema(name string) *capability.Schema {
	return &capability.Schema{Type: capability.KindReference, Ref: name}
}
