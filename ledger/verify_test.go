package ledger

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

func nodeSigner(t testing.TB, seed byte) *checkpoint.Signer {
	t.Helper()
	s, err := checkpoint.NewSigner("", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fillLedger appends n decisions in batches of 4, signing a checkpoint
// after every batch with a node key.
func fillLedger(t testing.TB, s *Store, n int) {
	t.Helper()
	signer := nodeSigner(t, 1)
	for i := 0; i < n; i += 4 {
		var batch []event.Event
		for j := i; j < i+4 && j < n; j++ {
			e := decision("agent", "t", "user.read", policy.Allow, "")
			e.Data = withCommand(e.Data.(event.PolicyDecision), commandFor(j))
			batch = append(batch, e)
		}
		mustAppend(t, s, AppendOptions{Time: t0 + int64(i)}, batch...)
		if _, err := s.SignHead("cnv.test", t0+int64(i), signer); err != nil {
			t.Fatal(err)
		}
	}
}

func withCommand(d event.PolicyDecision, c string) event.PolicyDecision {
	d.Command = c
	return d
}

func commandFor(i int) string {
	return "user.read --marker M" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "Q"
}

// rawUpdate writes to the file behind the ledger's back, as an attacker
// or a bad disk would.
func rawUpdate(t *testing.T, s *Store, fn func(tx *bolt.Tx) error) {
	t.Helper()
	if _, err := s.Update(func(tx *Tx) error { return fn(tx.btx) }); err != nil {
		t.Fatal(err)
	}
}

func verifyOK(t *testing.T, s *Store) *VerifyReport {
	t.Helper()
	rep, err := s.Verify(VerifyOptions{Structure: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify failed: %+v", rep.Problems)
	}
	return rep
}

func TestVerifyClean(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 30)
	rep := verifyOK(t, s)
	if rep.Size != 30 || !bytes.Equal(rep.Root, s.Head().Root) || rep.Checkpoints != 8 {
		t.Fatalf("%+v", rep)
	}
	trusted := []string{nodeSigner(t, 1).VerifierKey()}
	if rep, _ := s.Verify(VerifyOptions{TrustedKeys: trusted}); !rep.OK {
		t.Fatalf("trusted: %+v", rep.Problems)
	}
	other := []string{nodeSigner(t, 9).VerifierKey()}
	if rep, _ := s.Verify(VerifyOptions{TrustedKeys: other}); rep.OK {
		t.Fatal("untrusted signer accepted")
	}
}

// Every single changed byte of a stored event is reported with its index.
func TestVerifyEveryByteOfAnEvent(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 9)
	const victim = 5
	var orig []byte
	s.boltView(func(tx *bolt.Tx) error {
		orig = append([]byte(nil), tx.Bucket(bucketEvents).Get(u64(victim))...)
		return nil
	})
	for off := range orig {
		bad := append([]byte(nil), orig...)
		bad[off] ^= 0x01
		rawUpdate(t, s, func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Put(u64(victim), bad) })
		rep, err := s.Verify(VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK || rep.FirstBadIndex == nil || *rep.FirstBadIndex != victim {
			t.Fatalf("byte %d flipped: %+v", off, rep)
		}
	}
	rawUpdate(t, s, func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Put(u64(victim), orig) })
	verifyOK(t, s)
}

// A byte flipped in the file itself, closed and reopened.
func TestVerifyFileByteFlip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fillLedger(t, s, 40)
	s.Close()
	if n := FlipMarker(t, path, []byte(commandFor(17))); n == 0 {
		t.Fatal("marker not found in the file")
	}
	s, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(VerifyOptions{Structure: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.FirstBadIndex == nil || *rep.FirstBadIndex != 17 {
		t.Fatalf("%+v", rep)
	}
}

// FlipMarker flips one bit in every occurrence of marker in the file (old
// copies of a page may linger in free pages; the live one is among them).
func FlipMarker(t testing.TB, path string, marker []byte) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(data, marker); i >= 0; {
		data[i+len(marker)-1] ^= 0x01
		n++
		j := bytes.Index(data[i+1:], marker)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVerifyTamperedTreeNode(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 16)
	// Interior node (level 2, index 1) covers events 4..7.
	rawUpdate(t, s, func(tx *bolt.Tx) error {
		k, slot := tileOf(compact.NewNodeID(2, 1))
		b := tx.Bucket(bucketTree)
		v := append([]byte(nil), b.Get(k[:])...)
		v[slot*32+5] ^= 0x10
		return b.Put(k[:], v)
	})
	rep, _ := s.Verify(VerifyOptions{})
	if rep.OK || rep.FirstBadIndex == nil || *rep.FirstBadIndex != 4 {
		t.Fatalf("%+v", rep)
	}
}

func TestVerifyTamperedLeafHash(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 10)
	rawUpdate(t, s, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		v := append([]byte(nil), b.Get(u64(3))...)
		v[0] ^= 0x80 // the stored leaf hash, not the event bytes
		return b.Put(u64(3), v)
	})
	rep, _ := s.Verify(VerifyOptions{})
	if rep.OK || *rep.FirstBadIndex != 3 {
		t.Fatalf("%+v", rep)
	}
}

// A checkpoint that was validly signed over a different root (a forked
// history) is caught.
func TestVerifyForkedCheckpoint(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 8)
	signer := nodeSigner(t, 1)
	text, _ := checkpoint.Body{Origin: "cnv.test", Size: 6, Root: make([]byte, 32)}.Text()
	signed, _ := checkpoint.Sign(text, signer)
	if _, err := s.AddCheckpoint(signed, []string{signer.VerifierKey()}); err == nil {
		t.Fatal("AddCheckpoint accepted a root that is not the tree's")
	}
	rawUpdate(t, s, func(tx *bolt.Tx) error {
		v := mustMarshal(t, storedCheckpoint{Note: string(signed), VerifierKeys: []string{signer.VerifierKey()}})
		return tx.Bucket(bucketCheckpoints).Put(u64(6), v)
	})
	rep, _ := s.Verify(VerifyOptions{})
	if rep.OK || rep.FirstBadIndex == nil || *rep.FirstBadIndex != 5 {
		t.Fatalf("%+v", rep)
	}
}

func TestVerifyTruncatedLedger(t *testing.T) {
	s := openTest(t)
	fillLedger(t, s, 8)
	rawUpdate(t, s, func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Delete(u64(6)) })
	rep, _ := s.Verify(VerifyOptions{})
	if rep.OK || *rep.FirstBadIndex != 6 {
		t.Fatalf("%+v", rep)
	}
}
