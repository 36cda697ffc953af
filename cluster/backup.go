package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Snapshots of a running cluster (GET /v1/snapshot, `cnv-node snapshot
// save`): see DESIGN.md, "Backup and restore".

// DefaultOrigin is the checkpoint origin of a ledger that has no stored
// checkpoint yet (the CLI's `ledger checkpoint --origin` default).
const DefaultOrigin = "cnv"

// ErrSnapshotBusy: the node is already serving limits.MaxConcurrentSnapshots
// snapshots.
var ErrSnapshotBusy = cnverr.New(cnverr.ResourceExhausted, "this node is already serving a snapshot")

// Backup is a snapshot of the node's replicated state at one applied
// index, spooled to the node's disk and ready to stream. Close it.
type Backup struct {
	Meta    backup.Meta
	enc     *backup.Encoder
	spool   *os.File
	release func()
}

// Size is the length of the snapshot file WriteTo writes.
func (b *Backup) Size() int64 { return b.enc.Size() }

// WriteTo streams the snapshot file.
func (b *Backup) WriteTo(w io.Writer) (int64, error) { return b.enc.WriteTo(w) }

// Close releases the spooled copy.
func (b *Backup) Close() error {
	err := b.spool.Close()
	b.release()
	return err
}

// Backup takes a snapshot: a linearizable read index (through the leader
// on a follower), then, once the local state has applied it, a consistent
// copy of state.db in one bbolt read transaction, spooled to
// DataDir/snapshot-spool (so a slow reader holds no transaction), with a
// checkpoint of its ledger size and root signed by the node key.
func (n *Node) Backup(ctx context.Context) (*Backup, error) {
	if n.backups.Add(1) > limits.MaxConcurrentSnapshots {
		n.backups.Add(-1)
		return nil, fmt.Errorf("%w (at most %d at a time)", ErrSnapshotBusy, limits.MaxConcurrentSnapshots)
	}
	b, err := n.backup(ctx)
	if err != nil {
		n.backups.Add(-1)
		return nil, err
	}
	return b, nil
}

func (n *Node) backup(ctx context.Context) (*Backup, error) {
	start := time.Now()
	readIdx, err := n.Read(ctx, Linearizable, 0)
	if err != nil {
		return nil, err
	}
	spool, err := n.spoolState()
	if err != nil {
		return nil, err
	}
	b, err := n.prepareBackup(spool, readIdx)
	if err != nil {
		spool.Close()
		return nil, err
	}
	n.log.Info("snapshot taken", "raft_index", b.Meta.RaftIndex, "read_index", readIdx, "ledger_size", b.Meta.LedgerSize,
		"state_bytes", b.Meta.StateBytes, "took", time.Since(start))
	return b, nil
}

// spoolState copies state.db into a new file under DataDir/snapshot-spool;
// the file is unlinked once its metadata is read (prepareBackup), so a
// crash leaves at most a file that the next snapshot removes.
func (n *Node) spoolState() (*os.File, error) {
	dir := filepath.Join(n.cfg.DataDir, "snapshot-spool")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: snapshot spool: %w", err)
	}
	if n.backups.Load() == 1 { // no other snapshot is spooling: what is there is a crash's leftover
		removeStale(dir)
	}
	f, err := os.CreateTemp(dir, "state-*.db")
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot spool: %w", err)
	}
	if _, err := n.store.WriteTo(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("cluster: copy the state: %w", err)
	}
	return f, nil
}

func removeStale(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "state-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// prepareBackup reads the spooled copy's head (the index, size and root it
// holds, whatever was applied since the read index), signs its checkpoint
// and builds the encoder.
func (n *Node) prepareBackup(spool *os.File, readIdx uint64) (*Backup, error) {
	meta, err := spoolMeta(spool.Name())
	os.Remove(spool.Name()) // the open file stays readable
	if err != nil {
		return nil, err
	}
	fi, err := spool.Stat()
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot spool: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("cluster: snapshot spool: %w", err)
	}
	meta.ReadIndex, meta.StateBytes, meta.Created = readIdx, fi.Size(), n.cfg.Clock.Now().UTC()
	meta.NodeID, meta.NodeKey, meta.NodeKeyID = n.cfg.NodeID, n.pub, n.keyID
	cp, err := n.snapshotCheckpoint(meta)
	if err != nil {
		return nil, err
	}
	enc, err := backup.NewEncoder(backup.Source{Meta: meta, Checkpoint: cp, State: spool}, n.key)
	if err != nil {
		return nil, err
	}
	return &Backup{Meta: meta, enc: enc, spool: spool, release: func() { n.backups.Add(-1) }}, nil
}

// spoolMeta opens the copy read-only: its applied index, ledger size,
// root and policy hash, the origin of its checkpoints and its genesis.
func spoolMeta(path string) (backup.Meta, error) {
	st, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		return backup.Meta{}, fmt.Errorf("cluster: the state copy does not open: %w", err)
	}
	defer st.Close()
	h := st.Head()
	m := backup.Meta{Origin: DefaultOrigin, RaftIndex: h.AppliedIndex, LedgerSize: h.Size, LedgerRoot: h.Root.String(), PolicyHash: h.PolicyHash}
	cps, err := st.Checkpoints()
	if err != nil {
		return m, err
	}
	if len(cps) > 0 {
		m.Origin = cps[0].Origin
	}
	if h.Size > 0 {
		g, err := st.Root(1)
		if err != nil {
			return m, err
		}
		m.Genesis = g.String()
	}
	return m, nil
}

// snapshotCheckpoint signs the C2SP checkpoint of the snapshot's ledger
// size and root with the node key.
func (n *Node) snapshotCheckpoint(m backup.Meta) ([]byte, error) {
	signer, err := checkpoint.NewSigner("", n.key)
	if err != nil {
		return nil, err
	}
	body := checkpoint.Body{Origin: m.Origin, Size: m.LedgerSize, Root: m.Root(), PolicyHash: m.PolicyHash, Time: m.Created.UnixNano()}
	text, err := body.Text()
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot checkpoint: %w", err)
	}
	return checkpoint.Sign(text, signer)
}

// errIsNotExist reports a missing file.
func errIsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
