package backup

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/checkpoint"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Trusted, when set, requires the signer to be one of these keys.
	Trusted []ed25519.PublicKey
	// Progress, when set, hears how many of the ledger's events were
	// checked.
	Progress func(done, total uint64)
}

// Report is what Verify found (what `snapshot inspect` shows).
type Report struct {
	Meta      Meta  `json:"meta"`
	FileBytes int64 `json:"file_bytes"`
	// SHA256 is the file's digest before the end section (hex).
	SHA256 string `json:"sha256"`
	// Checkpoint is the signed note; VerifierKey the key it verified
	// under (the metadata's node key, in note form).
	Checkpoint        string   `json:"checkpoint"`
	CheckpointSigners []string `json:"checkpoint_signers"`
	VerifierKey       string   `json:"verifier_key"`
	// Trusted reports that the signer is one of VerifyOptions.Trusted.
	Trusted bool         `json:"trusted"`
	Ledger  LedgerReport `json:"ledger"`
	State   StateReport  `json:"state"`
}

// LedgerReport is the embedded ledger, recomputed from its events.
type LedgerReport struct {
	Size        uint64 `json:"size"`
	Root        string `json:"root"`
	Checkpoints int    `json:"checkpoints"`
	Verified    bool   `json:"verified"`
}

// StateReport summarises the embedded replicated state.
type StateReport struct {
	Bytes        int64    `json:"bytes"`
	AppliedIndex uint64   `json:"applied_index"`
	Bootstrapped bool     `json:"bootstrapped"`
	Principals   int      `json:"principals"`
	Capabilities int      `json:"capabilities"`
	PolicyHash   string   `json:"policy_hash,omitempty"`
	Nodes        []string `json:"nodes"`
}

// Verify checks a decoded file's contents against its state, written by
// Decode to statePath: the checkpoint's signature (under the metadata's
// node key) and that it signs the metadata's origin, size and root; that
// the state opens as a ledger and an FSM state at the recorded Raft index
// and size; that every event hashes to its leaf and the recomputed root is
// the recorded one (and the stored tree and checkpoints agree); and, with
// opts.Trusted, that the signer is trusted. The report is filled as far
// as the checks got, also when they fail.
func Verify(f *File, statePath string, opts VerifyOptions) (*Report, error) {
	rep := &Report{Meta: f.Meta, FileBytes: f.Size, SHA256: hex.EncodeToString(f.Digest), Checkpoint: string(f.Checkpoint)}
	if err := checkCheckpoint(f, rep); err != nil {
		return rep, err
	}
	st, err := ledger.Open(statePath, ledger.Options{ReadOnly: true})
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrState, err)
	}
	defer st.Close()
	if err := checkState(f.Meta, st, rep); err != nil {
		return rep, err
	}
	if err := checkLedger(f.Meta, st, opts, rep); err != nil {
		return rep, err
	}
	return rep, checkTrust(f.Meta, opts.Trusted, rep)
}

func checkCheckpoint(f *File, rep *Report) error {
	m := f.Meta
	vk, err := checkpoint.VerifierKey(checkpoint.KeyName(m.PublicKey()), m.PublicKey())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	rep.VerifierKey = vk
	cp, err := checkpoint.Open(f.Checkpoint, []string{vk})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	rep.CheckpointSigners = cp.Signers
	b := cp.Body
	if b.Origin != m.Origin || b.Size != m.LedgerSize || !bytes.Equal(b.Root, m.Root()) || b.PolicyHash != m.PolicyHash {
		return fmt.Errorf("%w: the checkpoint signs origin %q size %d root %x policy %q, the metadata records %q, %d, %s, %q",
			ErrMismatch, b.Origin, b.Size, b.Root, b.PolicyHash, m.Origin, m.LedgerSize, m.LedgerRoot, m.PolicyHash)
	}
	return nil
}

func checkState(m Meta, st *ledger.Store, rep *Report) error {
	f, err := fsm.New(st, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	v, head := f.View(), st.Head()
	rep.State = StateReport{Bytes: m.StateBytes, AppliedIndex: head.AppliedIndex, Bootstrapped: v.Bootstrapped,
		Principals: len(v.Principals), Capabilities: v.Registry.Len(), PolicyHash: head.PolicyHash, Nodes: []string{}}
	for id := range v.Nodes {
		rep.State.Nodes = append(rep.State.Nodes, id)
	}
	sort.Strings(rep.State.Nodes)
	switch {
	case head.AppliedIndex != m.RaftIndex:
		return fmt.Errorf("%w: the state is at raft index %d, the metadata records %d", ErrMismatch, head.AppliedIndex, m.RaftIndex)
	case head.Size != m.LedgerSize:
		return fmt.Errorf("%w: the state's ledger has %d events, the metadata records %d", ErrMismatch, head.Size, m.LedgerSize)
	case head.PolicyHash != m.PolicyHash:
		return fmt.Errorf("%w: the state's policy hash is %q, the metadata records %q", ErrMismatch, head.PolicyHash, m.PolicyHash)
	}
	return nil
}

func checkLedger(m Meta, st *ledger.Store, opts VerifyOptions, rep *Report) error {
	vr, err := st.Verify(ledger.VerifyOptions{Structure: true, Progress: opts.Progress})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	rep.Ledger = LedgerReport{Size: vr.Size, Root: vr.Root.String(), Checkpoints: vr.Checkpoints}
	if !vr.OK {
		msg := ""
		if len(vr.Problems) > 0 {
			msg = vr.Problems[0].Message
		}
		return fmt.Errorf("%w: %d problems, first: %s", ErrLedger, vr.ProblemCount, msg)
	}
	if vr.Size != m.LedgerSize || !bytes.Equal(vr.Root, m.Root()) {
		return fmt.Errorf("%w at size %d: the events give %s (%d events), the file records %s",
			ErrRootMismatch, m.LedgerSize, vr.Root, vr.Size, m.LedgerRoot)
	}
	rep.Ledger.Verified = true
	return nil
}

func checkTrust(m Meta, trusted []ed25519.PublicKey, rep *Report) error {
	for _, k := range trusted {
		if bytes.Equal(k, m.NodeKey) {
			rep.Trusted = true
		}
	}
	if len(trusted) > 0 && !rep.Trusted {
		return fmt.Errorf("%w: signed by %s (node %s), which is not among the %d trusted keys", ErrUntrusted, m.NodeKeyID, m.NodeID, len(trusted))
	}
	return nil
}

// Check decodes the file r into a temporary state file in dir (the system's
// temporary directory when ""), verifies it and removes the state file.
func Check(r io.Reader, dir string, opts VerifyOptions) (*Report, error) {
	tmp, err := os.CreateTemp(dir, "cnv-snapshot-state-*.db")
	if err != nil {
		return nil, fmt.Errorf("backup: temporary state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	f, err := Decode(r, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("backup: write the state: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	return Verify(f, tmp.Name(), opts)
}
