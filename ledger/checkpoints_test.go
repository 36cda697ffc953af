package ledger

import (
	"bytes"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

func TestCheckpointCosign(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""))
	a, b := nodeSigner(t, 1), nodeSigner(t, 2)
	if _, err := s.SignHead("cnv.test", t0+1, a); err != nil {
		t.Fatal(err)
	}
	// The second node signs later with another clock: it must cosign the
	// stored text, not cut a new one.
	rec, err := s.SignHead("cnv.test", t0+99, b)
	if err != nil {
		t.Fatal(err)
	}
	cps, _ := s.Checkpoints()
	if len(cps) != 1 || len(rec.Signers) != 2 || len(rec.VerifierKeys) != 2 {
		t.Fatalf("%d checkpoints, record %+v", len(cps), rec)
	}
	// Anyone holding the two node keys verifies the note with the note
	// library alone.
	va, _ := note.NewVerifier(a.VerifierKey())
	vb, _ := note.NewVerifier(b.VerifierKey())
	n, err := note.Open([]byte(rec.Note), note.VerifierList(va, vb))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("note.Open: %v", err)
	}
	body, _ := checkpoint.Parse(n.Text)
	if body.Size != 1 || body.Time != t0+1 || body.String() == "" {
		t.Fatalf("body %+v", body)
	}
}

func TestCheckpointRejects(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""), decision("a", "t", "user.read", policy.Allow, ""))
	signer := nodeSigner(t, 1)
	root1, _ := s.Root(1)
	sign := func(b checkpoint.Body) []byte {
		text, err := b.Text()
		if err != nil {
			t.Fatal(err)
		}
		m, _ := checkpoint.Sign(text, signer)
		return m
	}
	good := checkpoint.Body{Origin: "o", Size: 1, Root: root1}
	keys := []string{signer.VerifierKey()}
	for name, c := range map[string]struct {
		note []byte
		keys []string
	}{
		"beyond head":  {sign(checkpoint.Body{Origin: "o", Size: 3, Root: root1}), keys},
		"wrong root":   {sign(checkpoint.Body{Origin: "o", Size: 2, Root: root1}), keys},
		"unknown key":  {sign(good), []string{nodeSigner(t, 2).VerifierKey()}},
		"not a note":   {[]byte("hello\n"), keys},
		"no signature": {[]byte("o\n1\n" + "AAAA\n"), keys},
	} {
		if _, err := s.AddCheckpoint(c.note, c.keys); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An older size is fine when its root matches.
	if _, err := s.AddCheckpoint(sign(good), keys); err != nil {
		t.Fatal(err)
	}
	other := good
	other.Origin = "elsewhere"
	if _, err := s.AddCheckpoint(sign(other), keys); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("second origin: %v", err)
	}
	later := good
	later.Time = 5
	if _, err := s.AddCheckpoint(sign(later), keys); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("conflicting text at the same size: %v", err)
	}
}

// Successive checkpoints are consistent, checked with transparency-dev's
// verifier on proofs from the store.
func TestCheckpointsConsistent(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 23)
	cps, _ := s.Checkpoints()
	if len(cps) != 6 {
		t.Fatalf("%d checkpoints", len(cps))
	}
	for i := 1; i < len(cps); i++ {
		a, b := cps[i-1], cps[i]
		p, err := s.ConsistencyProof(a.Size, b.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(hasher, a.Size, b.Size, Bytes(p.Proof), a.Root, b.Root); err != nil {
			t.Fatalf("%d -> %d: %v", a.Size, b.Size, err)
		}
	}
}

// The FSM's flow: a Checkpoint event is appended, every node derives the
// same body from it, signs it on its own, and the signatures merge into
// one stored checkpoint that verifies against the tree.
func TestCheckpointFromEvent(t *testing.T) {
	s := openTest(t)
	hash := "bb00000000000000000000000000000000000000000000000000000000000000"
	mustAppend(t, s, AppendOptions{Time: t0},
		event.Event{Actor: "admin", Data: event.PolicyChanged{PolicyID: "main", Change: event.ChangeUpdated, ChangedBy: "admin", PolicyHash: hash}},
		decision("a", "t", "user.read", policy.Allow, ""))
	before := s.Head()
	res := mustAppend(t, s, AppendOptions{Time: t0 + 5}, event.Event{Actor: "system", Data: event.Checkpoint{}})
	e, _ := s.Event(res.Events[0].Index)
	for seed := byte(1); seed <= 3; seed++ {
		body, err := CheckpointBody("cnv.test", e)
		if err != nil {
			t.Fatal(err)
		}
		if body.Size != before.Size || !bytes.Equal(body.Root, before.Root) || body.PolicyHash != hash || body.Time != t0+5 {
			t.Fatalf("body %+v, head before %+v", body, before)
		}
		signer := nodeSigner(t, seed)
		signed, _ := checkpoint.Sign(body.String(), signer)
		if _, err := s.AddCheckpoint(signed, []string{signer.VerifierKey()}); err != nil {
			t.Fatal(err)
		}
	}
	cps, _ := s.Checkpoints()
	if len(cps) != 1 || len(cps[0].Signers) != 3 || cps[0].Size != before.Size {
		t.Fatalf("%+v", cps)
	}
	verifyOK(t, s)
	if _, err := CheckpointBody("o", decision("a", "t", "user.read", policy.Allow, "")); !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("%v", err)
	}
}
