// Package cert issues and verifies ledger certificates: a cluster's answer
// to a ledgered decision, proven by the decision's ledger event, an RFC
// 6962 inclusion proof of it, and the ledger head it is proven into as a
// C2SP checkpoint signed by the committing node (certificate.Answer). One
// signature covers every decision of a Raft entry; verifying one takes an
// Ed25519 check, a Merkle path and decoding the event.
//
// What a verifier believes comes only from the signed bytes: Check decodes
// the view from the event, and VerifyDocument refuses a document whose
// shown fields disagree with it, naming the field.
package cert

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Origin is the checkpoint origin of the heads nodes sign for answers.
const Origin = "cnv"

// Head is a ledger head signed by a node: the checkpoint text of Size and
// Root and the Ed25519 signature over exactly that text.
type Head struct {
	Size      uint64
	Root      []byte
	Text      []byte
	Signature []byte
	Signer    principal.KeyID
}

// SignHead signs the checkpoint of the ledger at size with root. The
// signature is the one a sumdb note signature line would carry for the
// same key, over the same text.
func SignHead(size uint64, root []byte, key ed25519.PrivateKey) (Head, error) {
	text, err := checkpoint.Body{Origin: Origin, Size: size, Root: root}.Text()
	if err != nil {
		return Head{}, err
	}
	pub := key.Public().(ed25519.PublicKey)
	return Head{Size: size, Root: root, Text: []byte(text), Signature: ed25519.Sign(key, []byte(text)), Signer: principal.IDOf(pub)}, nil
}

// Issue fills in a ledgered answer: the summary, the view (Certificate for
// an allow, Receipt otherwise) and the proof, from the decision's stored
// event, its canonical bytes, its inclusion proof into h and the head.
func Issue(a *certificate.Answer, ev *event.Event, canonical []byte, inclusion [][]byte, h Head) error {
	leaf := rfc6962.DefaultHasher.HashLeaf(canonical)
	v, err := ViewOf(ev, leaf, h.Size, h.Root, h.Signer)
	if err != nil {
		return err
	}
	summarize(a, v)
	a.Event, a.TreeSize, a.InclusionProof = canonical, h.Size, inclusion
	a.SignedBytes, a.Signature, a.Signer = h.Text, h.Signature, string(h.Signer)
	return nil
}

// summarize sets an answer's summary and view from v.
func summarize(a *certificate.Answer, v *certificate.View) {
	a.RequestID = v.RequestID
	a.Decision, a.Reason, a.Suggestion = string(v.Decision), v.Reason, v.Suggestion
	a.LedgerIndex, a.LeafHash, a.Time = v.LedgerIndex, v.LeafHash, v.IssuedAt
	a.UseCounts = v.UseCounts
	a.Policy = &certificate.AnswerPolicy{MatchedRule: v.Trace.MatchedRule, EvaluatedRules: v.Trace.EvaluatedRules, PolicyHash: v.Trace.PolicyHash}
	a.Certificate, a.Receipt = nil, nil
	if v.Allowed() {
		a.Certificate = v
	} else {
		a.Receipt = v
	}
}

// ViewOf is what a decision event states, proven by leaf into the ledger
// of size with root and signed by signer.
func ViewOf(ev *event.Event, leaf []byte, size uint64, root []byte, signer principal.KeyID) (*certificate.View, error) {
	var pd *event.PolicyDecision
	switch d := ev.Data.(type) {
	case event.PolicyDecision:
		pd = &d
	case *event.PolicyDecision:
		pd = d
	}
	if pd == nil {
		return nil, fmt.Errorf("%w: ledger event %d is a %s, not a decision", certificate.ErrInvalid, ev.Index, ev.Type())
	}
	req, res := &pd.Request, &pd.Result
	v := &certificate.View{
		ID:       certificate.LedgerID(leaf),
		Decision: res.Decision, Reason: res.Reason, Suggestion: res.Suggestion, Approver: res.Approver,
		Capability: req.Capability, CapabilityID: req.Capability.ID(),
		Effects: req.Effects, Sensitivity: req.Sensitivity, DataTags: req.DataTags,
		AgentID: req.AgentID, AgentType: req.AgentType, Tenant: req.Tenant, Admin: req.Admin,
		KeyID: req.Invoker, Chain: pd.ChainLinks, Constraints: pd.Constraints,
		RequestID: pd.RequestID, CorrelationID: ev.Correlation, Command: pd.Command, ArgsDigest: pd.ArgsDigest,
		Trace: certificate.Trace{PolicyHash: res.PolicyHash, Decision: res.Decision, Reason: res.Reason,
			EvaluatedRules: res.EvaluatedRules, MatchedRule: res.MatchedRule},
		IssuedAt: ev.Time, LedgerIndex: ev.Index, RaftIndex: ev.RaftIndex,
		LeafHash: hex.EncodeToString(leaf), TreeSize: size, Root: hex.EncodeToString(root), Signer: signer,
	}
	if v.KeyID == "" {
		v.KeyID = req.KeyID
	}
	if req.KeyID != v.KeyID {
		v.Origin = req.KeyID
	}
	if v.Allowed() {
		v.ExpiresAt = ev.Time + int64(certificate.DefaultTTL)
	}
	for _, u := range pd.UseCounts {
		v.UseCounts = append(v.UseCounts, certificate.UseCount{Link: u.Link, Used: u.Used, Max: u.Max})
	}
	return v, nil
}

// Checked is a ledger certificate or receipt whose proof verified.
type Checked struct {
	View  *certificate.View
	Event event.Event
	// Answer is the answer as its signed bytes state it.
	Answer certificate.Answer
}

// Check verifies an answer's proof against the trusted node keys: the
// signer is trusted, the signature covers the checkpoint text, the
// inclusion proof leads from the event's leaf hash to the checkpoint's
// root at the stated index, and the event is a decision in canonical form
// at that index. It ignores every other field of a; VerifyDocument also
// compares them.
func Check(a *certificate.Answer, trust certificate.Trust) (*Checked, error) {
	switch {
	case a.Error != nil:
		return nil, fmt.Errorf("%w: the answer is an error (%s), not a ledgered decision", certificate.ErrInvalid, a.Error.Message)
	case len(a.Event) == 0 || len(a.SignedBytes) == 0 || len(a.Signature) == 0 || a.Signer == "":
		return nil, fmt.Errorf("%w: want event, signed_bytes, signature and signer", certificate.ErrInvalid)
	case len(a.Event) > limits.MaxEventBytes:
		return nil, fmt.Errorf("%w: event is %d bytes, limit %d", certificate.ErrInvalid, len(a.Event), limits.MaxEventBytes)
	case len(a.InclusionProof) > limits.MaxProofHashes:
		return nil, fmt.Errorf("%w: inclusion proof has %d hashes, limit %d", certificate.ErrInvalid, len(a.InclusionProof), limits.MaxProofHashes)
	}
	pub, ok := trust[principal.KeyID(a.Signer)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", certificate.ErrUntrustedSigner, a.Signer)
	}
	if len(a.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, a.SignedBytes, a.Signature) {
		return nil, certificate.ErrBadSignature
	}
	head, err := checkpoint.Parse(string(a.SignedBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: signed bytes: %v", certificate.ErrInvalid, err)
	}
	if a.TreeSize != 0 && a.TreeSize != head.Size {
		return nil, fmt.Errorf("%w: tree_size says %d, the signed checkpoint %d", certificate.ErrFieldMismatch, a.TreeSize, head.Size)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(a.Event)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, a.LedgerIndex, head.Size, leaf, a.InclusionProof, head.Root); err != nil {
		return nil, fmt.Errorf("%w: event at index %d in the ledger of size %d: %v", certificate.ErrBadProof, a.LedgerIndex, head.Size, err)
	}
	ev, err := decodeEvent(a.Event)
	if err != nil {
		return nil, err
	}
	if ev.Index != a.LedgerIndex {
		return nil, fmt.Errorf("%w: the event says index %d, the proof %d", certificate.ErrInvalid, ev.Index, a.LedgerIndex)
	}
	v, err := ViewOf(&ev, leaf, head.Size, head.Root, principal.KeyID(a.Signer))
	if err != nil {
		return nil, err
	}
	c := &Checked{View: v, Event: ev}
	summarize(&c.Answer, v)
	c.Answer.Event, c.Answer.TreeSize, c.Answer.InclusionProof = a.Event, head.Size, a.InclusionProof
	c.Answer.SignedBytes, c.Answer.Signature, c.Answer.Signer = a.SignedBytes, a.Signature, a.Signer
	return c, nil
}

// decodeEvent decodes a certificate's event and insists on its canonical
// form: the bytes the leaf hash covers are the only encoding of what the
// view shows.
func decodeEvent(b []byte) (event.Event, error) {
	ev, err := event.UnmarshalEvent(b)
	if err != nil {
		return event.Event{}, fmt.Errorf("%w: event: %v", certificate.ErrInvalid, err)
	}
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%w: event: %v", certificate.ErrInvalid, err)
	}
	again, err := ev.MarshalCanonical()
	if err != nil || !bytes.Equal(again, b) {
		return event.Event{}, fmt.Errorf("%w: event is not in canonical form", certificate.ErrInvalid)
	}
	return ev, nil
}

// CheckWindow refuses a certificate that is not an allow, or whose
// validity window does not hold now (both ends inclusive).
func CheckWindow(v *certificate.View, now int64) error {
	if v.Decision != policy.Allow {
		return fmt.Errorf("%w: the decision was %s", certificate.ErrNotVerified, v.Decision)
	}
	if now < v.IssuedAt {
		return fmt.Errorf("%w: issued at %d, now %d", certificate.ErrNotYetValid, v.IssuedAt, now)
	}
	if now > v.ExpiresAt {
		return fmt.Errorf("%w: expired at %d, now %d", certificate.ErrExpired, v.ExpiresAt, now)
	}
	return nil
}
