package ledger

import (
	"bytes"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// CheckpointRecord is a signed checkpoint kept in the ledger: the note and
// the verifier keys of everyone who signed it.
type CheckpointRecord struct {
	Size         uint64   `json:"size"`
	Root         Hash     `json:"root"`
	Origin       string   `json:"origin"`
	Note         string   `json:"note"`
	VerifierKeys []string `json:"verifier_keys"`
	Signers      []string `json:"signers"`
}

// storedCheckpoint is the canonical stored form.
type storedCheckpoint struct {
	Note         string   `json:"note"`
	VerifierKeys []string `json:"verifier_keys"`
}

// AddCheckpoint stores a signed checkpoint, or adds its signatures to the
// stored one of the same size. Every signature must verify under
// verifierKeys, the checkpoint's root must be the tree's root at its size,
// its origin must be that of the ledger's other checkpoints, and a stored
// checkpoint of the same size must sign the same text. Only the keys that
// signed are kept.
func (t *Tx) AddCheckpoint(signed []byte, verifierKeys []string) (CheckpointRecord, error) {
	if t.err != nil {
		return CheckpointRecord{}, fmt.Errorf("%w: %v", ErrTxFailed, t.err)
	}
	rec, err := t.addCheckpoint(signed, verifierKeys)
	if err != nil {
		return CheckpointRecord{}, t.fail(err)
	}
	return rec, nil
}

func (t *Tx) addCheckpoint(signed []byte, verifierKeys []string) (CheckpointRecord, error) {
	cp, err := checkpoint.Open(signed, verifierKeys)
	if err != nil {
		return CheckpointRecord{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if err := t.checkAgainstTree(cp.Body); err != nil {
		return CheckpointRecord{}, err
	}
	norm, err := checkpoint.Merge(signed) // canonical signature order
	if err != nil {
		return CheckpointRecord{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	sc := storedCheckpoint{Note: string(norm), VerifierKeys: cp.Keys}
	if old, ok, err := readCheckpoint(t.b.checkpoints, cp.Body.Size); err != nil {
		return CheckpointRecord{}, err
	} else if ok {
		if sc, err = mergeCheckpoints(old, sc); err != nil {
			return CheckpointRecord{}, err
		}
	}
	b, err := codec.Marshal(sc)
	if err != nil {
		return CheckpointRecord{}, err
	}
	if err := t.b.checkpoints.Put(u64(cp.Body.Size), b); err != nil {
		return CheckpointRecord{}, fmt.Errorf("store checkpoint: %w", err)
	}
	return sc.record()
}

func (t *Tx) checkAgainstTree(b checkpoint.Body) error {
	if b.Size > t.st.size {
		return fmt.Errorf("%w: size %d is beyond the ledger's %d", ErrCheckpoint, b.Size, t.st.size)
	}
	root := rangeRoot(t.st.rng)
	if b.Size < t.st.size {
		var err error
		if root, err = rootAtSize(t.nodes(), b.Size); err != nil {
			return err
		}
	}
	if !bytes.Equal(root, b.Root) {
		return fmt.Errorf("%w: root at size %d is %x, checkpoint says %x", ErrCheckpoint, b.Size, root, b.Root)
	}
	if k, v := t.b.checkpoints.Cursor().First(); k != nil {
		first, err := decodeCheckpoint(v)
		if err != nil {
			return err
		}
		if first.Origin != b.Origin {
			return fmt.Errorf("%w: origin %q, the ledger's checkpoints use %q", ErrCheckpoint, b.Origin, first.Origin)
		}
	}
	return nil
}

func rootAtSize(src nodeSource, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	return rootAt(src, size)
}

func mergeCheckpoints(old, add storedCheckpoint) (storedCheckpoint, error) {
	note, err := checkpoint.Merge([]byte(old.Note), []byte(add.Note))
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if len(note) > limits.MaxCheckpointBytes {
		return storedCheckpoint{}, fmt.Errorf("%w: merged note is %d bytes, limit %d", ErrCheckpoint, len(note), limits.MaxCheckpointBytes)
	}
	return storedCheckpoint{Note: string(note), VerifierKeys: checkpoint.MergeKeys(old.VerifierKeys, add.VerifierKeys)}, nil
}

func readCheckpoint(b *bolt.Bucket, size uint64) (storedCheckpoint, bool, error) {
	v := b.Get(u64(size))
	if v == nil {
		return storedCheckpoint{}, false, nil
	}
	var sc storedCheckpoint
	if err := codec.UnmarshalLimit(v, 2*limits.MaxCheckpointBytes, &sc); err != nil {
		return sc, false, fmt.Errorf("%w: checkpoint %d: %v", ErrCorrupt, size, err)
	}
	return sc, true, nil
}

func decodeCheckpoint(v []byte) (CheckpointRecord, error) {
	var sc storedCheckpoint
	if err := codec.UnmarshalLimit(v, 2*limits.MaxCheckpointBytes, &sc); err != nil {
		return CheckpointRecord{}, fmt.Errorf("%w: checkpoint: %v", ErrCorrupt, err)
	}
	return sc.record()
}

// record opens the stored note under its own keys.
func (sc storedCheckpoint) record() (CheckpointRecord, error) {
	cp, err := checkpoint.Open([]byte(sc.Note), sc.VerifierKeys)
	if err != nil {
		return CheckpointRecord{}, fmt.Errorf("%w: stored checkpoint: %w", ErrCorrupt, err)
	}
	return CheckpointRecord{
		Size: cp.Body.Size, Root: cp.Body.Root, Origin: cp.Body.Origin, Note: sc.Note,
		VerifierKeys: sc.VerifierKeys, Signers: cp.Signers,
	}, nil
}

// AddCheckpoint stores (or cosigns) a signed checkpoint in its own
// transaction; see Tx.AddCheckpoint.
func (s *Store) AddCheckpoint(signed []byte, verifierKeys []string) (CheckpointRecord, error) {
	var rec CheckpointRecord
	_, err := s.Update(func(tx *Tx) error {
		var err error
		rec, err = tx.AddCheckpoint(signed, verifierKeys)
		return err
	})
	return rec, err
}

// HeadCheckpointBody is the body to sign for the current head: the stored
// checkpoint's body when the head is already checkpointed (so a cosigner
// signs the same text), otherwise a new body with the given origin, the
// ledger's policy hash and time now.
func (t *Tx) HeadCheckpointBody(origin string, now int64) (checkpoint.Body, error) {
	old, ok, err := readCheckpoint(t.b.checkpoints, t.st.size)
	if err != nil || !ok {
		return checkpoint.Body{Origin: origin, Size: t.st.size, Root: rangeRoot(t.st.rng),
			PolicyHash: t.st.policyHash, Time: now}, err
	}
	n, err := checkpoint.Open([]byte(old.Note), old.VerifierKeys)
	if err != nil {
		return checkpoint.Body{}, fmt.Errorf("%w: stored checkpoint: %w", ErrCorrupt, err)
	}
	return n.Body, nil
}

// SignHead signs (or cosigns) a checkpoint of the current head with
// signer, in one transaction. origin and now are used only when the head
// has no checkpoint yet.
func (s *Store) SignHead(origin string, now int64, signer *checkpoint.Signer) (CheckpointRecord, error) {
	var rec CheckpointRecord
	_, err := s.Update(func(tx *Tx) error {
		body, err := tx.HeadCheckpointBody(origin, now)
		if err != nil {
			return err
		}
		text, err := body.Text()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCheckpoint, err)
		}
		signed, err := checkpoint.Sign(text, signer)
		if err != nil {
			return err
		}
		rec, err = tx.AddCheckpoint(signed, []string{signer.VerifierKey()})
		return err
	})
	return rec, err
}

// Checkpoints lists the stored checkpoints by size.
func (s *Store) Checkpoints() ([]CheckpointRecord, error) {
	out := []CheckpointRecord{}
	err := s.view(func(r *reader) error {
		if r.empty {
			return nil
		}
		return r.checkpointsB().ForEach(func(k, v []byte) error {
			rec, err := decodeCheckpoint(v)
			if err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
	})
	return out, err
}

// CheckpointBody is the checkpoint body a Checkpoint event commits to: the
// tree head and policy hash it records, stamped with the event's time. It
// is a pure function of the event, so every node that applied the event
// signs the same text.
func CheckpointBody(origin string, e event.Event) (checkpoint.Body, error) {
	p, ok := event.PayloadValue(e.Data).(event.Checkpoint)
	if !ok {
		return checkpoint.Body{}, fmt.Errorf("%w: %s is not a Checkpoint event", event.ErrInvalidEvent, e.Type())
	}
	root, err := hex.DecodeString(p.Root)
	if err != nil {
		return checkpoint.Body{}, fmt.Errorf("%w: checkpoint root: %v", event.ErrInvalidEvent, err)
	}
	return checkpoint.Body{Origin: origin, Size: p.Size, Root: root, PolicyHash: p.PolicyHash, Time: e.Time}, nil
}
