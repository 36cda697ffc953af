package backup_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/ledger/event/eventtest"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// makeState writes a ledger of n events, applied at raft index 10+n, and
// returns its file's bytes and head.
func makeState(t testing.TB, n int) ([]byte, ledger.Head) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := ledger.Open(path, ledger.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < n; i++ {
		ev := eventtest.Decision("a", "t", "user.create", policy.Allow, "ok")
		if _, err := st.AppendBatch([]event.Event{ev}, ledger.AppendOptions{RaftIndex: uint64(11 + i), Time: int64(1e18) + int64(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st.Head()
}

// forge is a snapshot's parts before encoding; tests change them.
type forge struct {
	meta  backup.Meta
	body  checkpoint.Body
	state []byte
	key   ed25519.PrivateKey
	// cpKey, when set, signs the checkpoint instead of key.
	cpKey ed25519.PrivateKey
}

func newForge(t testing.TB, events int) *forge {
	t.Helper()
	state, h := makeState(t, events)
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	m := backup.Meta{Origin: "cnv", RaftIndex: h.AppliedIndex, ReadIndex: h.AppliedIndex, LedgerSize: h.Size, LedgerRoot: h.Root.String(),
		PolicyHash: h.PolicyHash, NodeID: "n1", NodeKey: pub, NodeKeyID: principal.IDOf(pub),
		Created: time.Unix(1700000000, 0).UTC(), StateBytes: int64(len(state))}
	return &forge{meta: m, body: checkpoint.Body{Origin: "cnv", Size: h.Size, Root: h.Root, PolicyHash: h.PolicyHash, Time: 1700000000e9},
		state: state, key: key}
}

// encode signs the checkpoint body and the file with f.key.
func (f *forge) encode(t testing.TB) []byte {
	t.Helper()
	cpKey := f.key
	if f.cpKey != nil {
		cpKey = f.cpKey
	}
	signer, err := checkpoint.NewSigner("", cpKey)
	if err != nil {
		t.Fatal(err)
	}
	text, err := f.body.Text()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Sign(text, signer)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := backup.NewEncoder(backup.Source{Meta: f.meta, Checkpoint: cp, State: bytes.NewReader(f.state)}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := enc.WriteTo(&out)
	if err != nil || n != enc.Size() || int64(out.Len()) != n {
		t.Fatalf("wrote %d of announced %d (%d buffered): %v", n, enc.Size(), out.Len(), err)
	}
	return out.Bytes()
}

func check(t testing.TB, file []byte, opts backup.VerifyOptions) (*backup.Report, error) {
	t.Helper()
	return backup.Check(bytes.NewReader(file), t.TempDir(), opts)
}

func TestRoundTrip(t *testing.T) {
	f := newForge(t, 20)
	file := f.encode(t)
	var state bytes.Buffer
	dec, err := backup.Decode(bytes.NewReader(file), &state)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state.Bytes(), f.state) || dec.Size != int64(len(file)) || dec.Meta.LedgerSize != 20 {
		t.Fatalf("decoded %d state bytes, size %d, meta %+v", state.Len(), dec.Size, dec.Meta)
	}
	if sum := sha256.Sum256(file[:len(file)-(9+96+4)]); !bytes.Equal(sum[:], dec.Digest) {
		t.Fatal("digest is not the SHA-256 of the file before the end section")
	}
	rep, err := check(t, file, backup.VerifyOptions{Trusted: []ed25519.PublicKey{f.key.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Ledger.Verified || rep.Ledger.Size != 20 || rep.Ledger.Root != f.meta.LedgerRoot || !rep.Trusted ||
		rep.State.AppliedIndex != f.meta.RaftIndex || len(rep.CheckpointSigners) != 1 {
		t.Fatalf("report %+v", rep)
	}
}

func TestEmptyLedger(t *testing.T) {
	f := newForge(t, 0)
	if _, err := check(t, f.encode(t), backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// sections returns each section's [start, end) in file (header first).
func sections(t testing.TB, file []byte) map[string][2]int {
	t.Helper()
	out := map[string][2]int{"header": {0, 12}}
	off := 12
	for _, name := range []string{"metadata", "checkpoint", "state", "end"} {
		n := int(uint64(file[off+1])<<56 | uint64(file[off+2])<<48 | uint64(file[off+3])<<40 | uint64(file[off+4])<<32 |
			uint64(file[off+5])<<24 | uint64(file[off+6])<<16 | uint64(file[off+7])<<8 | uint64(file[off+8]))
		out[name] = [2]int{off, off + 9 + n + 4}
		off += 9 + n + 4
	}
	if off != len(file) {
		t.Fatalf("sections end at %d of %d", off, len(file))
	}
	return out
}

// A flipped byte anywhere is refused, naming what is wrong.
func TestTamperEachSection(t *testing.T) {
	f := newForge(t, 10)
	file := f.encode(t)
	secs := sections(t, file)
	for _, tc := range []struct {
		at   int
		want error
		msg  string
	}{
		{0, backup.ErrMagic, "bad magic"},
		{9, backup.ErrVersion, "version"},
		{11, backup.ErrMalformed, "header flags"},
		{secs["metadata"][0] + 20, backup.ErrChecksum, "in the metadata section"},
		{secs["checkpoint"][0] + 20, backup.ErrChecksum, "in the checkpoint section"},
		{secs["state"][0] + 5000, backup.ErrChecksum, "in the state section"},
		{secs["state"][1] - 2, backup.ErrChecksum, "in the state section"},
		{secs["end"][0] + 12, backup.ErrChecksum, "in the end section"},
		{secs["end"][0], backup.ErrMalformed, "expected the end section"},
	} {
		bad := bytes.Clone(file)
		bad[tc.at] ^= 0x40
		_, err := check(t, bad, backup.VerifyOptions{})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("byte %d flipped: %v, want %v (%q)", tc.at, err, tc.want, tc.msg)
		}
	}
}

func TestTruncated(t *testing.T) {
	file := newForge(t, 5).encode(t)
	for _, n := range []int{0, 4, 12, 30, len(file) / 2, len(file) - 1} {
		_, err := check(t, file[:n], backup.VerifyOptions{})
		if n == 4 && !errors.Is(err, backup.ErrTruncated) {
			t.Errorf("cut at %d: %v", n, err)
		}
		if want := fmt.Sprintf("truncated at byte %d", n); !errors.Is(err, backup.ErrTruncated) || !strings.Contains(err.Error(), want) {
			t.Errorf("cut at %d: %v, want %q", n, err, want)
		}
	}
	_, err := check(t, append(bytes.Clone(file), 0), backup.VerifyOptions{})
	if !errors.Is(err, backup.ErrMalformed) || !strings.Contains(err.Error(), "data after the end section") {
		t.Errorf("trailing byte: %v", err)
	}
}

// Files whose checksums and digest are right but whose signatures or
// contents are not: what a forger (or a faulty node) could write.
func TestForged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *forge, file []byte) []byte
		want   error
		msg    string
	}{
		{"checkpoint by another key", func(t *testing.T, f *forge, _ []byte) []byte {
			f.cpKey = testKey(2)
			return f.encode(t)
		}, backup.ErrCheckpoint, "bad checkpoint signature"},
		{"file signature by another key", func(t *testing.T, f *forge, file []byte) []byte {
			file[len(file)-10] ^= 1 // in the signature: fix the CRC
			return fixEndCRC(file)
		}, backup.ErrSignature, "bad snapshot signature"},
		{"checkpoint of another size", func(t *testing.T, f *forge, _ []byte) []byte {
			f.body.Size++
			return f.encode(t)
		}, backup.ErrMismatch, "the checkpoint signs"},
		{"another root", func(t *testing.T, f *forge, _ []byte) []byte {
			root := sha256.Sum256([]byte("x"))
			f.body.Root, f.meta.LedgerRoot = root[:], fmt.Sprintf("%x", root)
			return f.encode(t)
		}, backup.ErrRootMismatch, "ledger root mismatch at size 10"},
		{"another raft index", func(t *testing.T, f *forge, _ []byte) []byte {
			f.meta.RaftIndex++
			return f.encode(t)
		}, backup.ErrMismatch, "raft index"},
		{"state that is not a ledger", func(t *testing.T, f *forge, _ []byte) []byte {
			f.state = bytes.Repeat([]byte{7}, 8192)
			f.meta.StateBytes = int64(len(f.state))
			return f.encode(t)
		}, backup.ErrState, "embedded state does not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newForge(t, 10)
			file := tc.change(t, f, f.encode(t))
			_, err := check(t, file, backup.VerifyOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v, want %v (%q)", err, tc.want, tc.msg)
			}
		})
	}
}

func TestUntrusted(t *testing.T) {
	f := newForge(t, 3)
	_, err := check(t, f.encode(t), backup.VerifyOptions{Trusted: []ed25519.PublicKey{testKey(9).Public().(ed25519.PublicKey)}})
	if !errors.Is(err, backup.ErrUntrusted) || !strings.Contains(err.Error(), string(f.meta.NodeKeyID)) {
		t.Fatalf("%v", err)
	}
}

// fixEndCRC recomputes the end section's CRC after a change in it.
func fixEndCRC(file []byte) []byte {
	end := len(file) - (9 + 96 + 4)
	sum := crc32c(file[end : len(file)-4])
	copy(file[len(file)-4:], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return file
}

func TestEncoderRefusesAShortState(t *testing.T) {
	f := newForge(t, 2)
	enc, err := backup.NewEncoder(backup.Source{Meta: f.meta, Checkpoint: []byte("x"), State: io.LimitReader(bytes.NewReader(f.state), 100)}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "ended after 100") {
		t.Fatalf("%v", err)
	}
	if _, err := backup.NewEncoder(backup.Source{Meta: f.meta, State: bytes.NewReader(nil)}, testKey(3)); !errors.Is(err, backup.ErrMalformed) {
		t.Fatalf("another key: %v", err)
	}
}

func TestCheckCleansUp(t *testing.T) {
	dir := t.TempDir()
	if _, err := backup.Check(bytes.NewReader(newForge(t, 1).encode(t)), dir, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
}
