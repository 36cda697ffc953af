package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Restoring a snapshot into a new cluster (`cnv-node snapshot restore`):
// RestoreDataDir writes DataDir/state.db and DataDir/seed.json offline;
// the node's first start on the directory (with Bootstrap) turns the seed
// into a Raft snapshot at the state's applied index (seedFromBackup). See
// DESIGN.md, "Backup and restore".

// seedFile names the seed a restore leaves in a data dir.
const seedFile = "seed.json"

// ErrDataDirInUse: restore refuses a directory that already holds a node.
var ErrDataDirInUse = cnverr.New(cnverr.Conflict, "the data directory already holds a node")

// ErrSeed: a data dir with a restored snapshot started in a way that cannot
// seed a cluster from it.
var ErrSeed = cnverr.New(cnverr.InvalidInput, "cannot seed a cluster from the restored snapshot")

// RestoreOptions tune RestoreDataDir.
type RestoreOptions struct {
	// NodeID and RaftAddr, when set, are the only ones the node started on
	// the directory may have (its first start checks them).
	NodeID, RaftAddr string
	// Verify tunes the checks of the file (trusted keys, progress).
	Verify backup.VerifyOptions
}

// Restored is what RestoreDataDir did.
type Restored struct {
	Report  *backup.Report `json:"report"`
	DataDir string         `json:"data_dir"`
	// DroppedNodes are the old cluster's node records, removed from the
	// restored state: the new cluster's members register their own.
	DroppedNodes []string `json:"dropped_node_records"`
	NodeID       string   `json:"node_id,omitempty"`
	RaftAddr     string   `json:"raft_addr,omitempty"`
}

// seed is DataDir/seed.json: what the first start needs to make Raft
// agree with the restored state.
type seed struct {
	Format     int       `json:"format"`
	RaftIndex  uint64    `json:"raft_index"`
	LedgerSize uint64    `json:"ledger_size"`
	LedgerRoot string    `json:"ledger_root"`
	NodeID     string    `json:"node_id,omitempty"`
	RaftAddr   string    `json:"raft_addr,omitempty"`
	From       string    `json:"from_node"`
	Created    time.Time `json:"snapshot_created"`
}

// RestoreDataDir checks the snapshot file r completely (Decode, Verify)
// and writes it into dir as a node's state.db, with the old cluster's node
// records removed, and a seed for the node's first start. It refuses a dir
// that holds a node's state or Raft files, and leaves dir as it was on any
// error.
func RestoreDataDir(r io.Reader, dir string, opts RestoreOptions) (*Restored, error) {
	if err := checkFreshDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: restore: %w", err)
	}
	tmp := filepath.Join(dir, "state.db.restore")
	out := &Restored{DataDir: dir, NodeID: opts.NodeID, RaftAddr: opts.RaftAddr}
	err := restoreInto(r, tmp, opts, out)
	if err != nil {
		os.Remove(tmp)
		return out, err
	}
	m := out.Report.Meta
	sd := seed{Format: 1, RaftIndex: m.RaftIndex, LedgerSize: m.LedgerSize, LedgerRoot: m.LedgerRoot,
		NodeID: opts.NodeID, RaftAddr: opts.RaftAddr, From: m.NodeID, Created: m.Created}
	if err := installRestored(dir, tmp, sd); err != nil {
		os.Remove(tmp)
		return out, err
	}
	return out, nil
}

// checkFreshDir refuses a directory that holds a node (its state, its Raft
// files, a seed, a restore in progress); a node key alone may be there.
func checkFreshDir(dir string) error {
	for _, name := range []string{"state.db", "raft", seedFile, "state.db.restore"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%w: %s has %s; restore into a new directory", ErrDataDirInUse, dir, name)
		} else if !errIsNotExist(err) {
			return fmt.Errorf("cluster: restore: %w", err)
		}
	}
	return nil
}

func restoreInto(r io.Reader, tmp string, opts RestoreOptions, out *Restored) error {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	file, err := backup.Decode(r, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if out.Report, err = backup.Verify(file, tmp, opts.Verify); err != nil {
		return err
	}
	out.DroppedNodes, err = dropNodeRecords(tmp)
	return err
}

// dropNodeRecords removes every node record from the state file: they
// name the old cluster's members (addresses to gossip with, keys that may
// propose node commands), none of which belongs to the new cluster. The
// old cluster's tombstones go too: they name its removed servers, not the
// new cluster's (which may reuse the ids). It returns the dropped
// records' ids.
func dropNodeRecords(path string) ([]string, error) {
	st, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		return nil, fmt.Errorf("cluster: restore: %w", err)
	}
	defer st.Close()
	db, err := st.KV(state.Namespace)
	if err != nil {
		return nil, err
	}
	s := state.New(db)
	ids := []string{}
	var removed []string
	var keys []principal.KeyID
	err = s.View(func(r *state.Reader) error {
		return errors.Join(
			r.Nodes(func(n state.Node) error { ids = append(ids, n.ID); return nil }),
			r.RemovedIDs(func(t state.Tombstone) error { removed = append(removed, t.ID); return nil }),
			r.RemovedKeys(func(k principal.KeyID, _ state.Tombstone) error { keys = append(keys, k); return nil }))
	})
	if err != nil {
		return nil, err
	}
	err = s.Update(func(w *state.Writer) error {
		for _, id := range ids {
			if err := w.DeleteNode(id); err != nil {
				return err
			}
		}
		for _, id := range removed {
			if err := w.DeleteRemovedID(id); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := w.DeleteRemovedKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// installRestored renames the checked state into place and writes the seed.
func installRestored(dir, tmp string, sd seed) error {
	b, err := json.MarshalIndent(sd, "", "  ")
	if err != nil {
		return err
	}
	seedTmp := filepath.Join(dir, seedFile+".tmp")
	if err := writeSynced(seedTmp, b); err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "state.db")); err != nil {
		os.Remove(seedTmp)
		return fmt.Errorf("cluster: restore: %w", err)
	}
	if err := os.Rename(seedTmp, filepath.Join(dir, seedFile)); err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	return syncDirectory(dir)
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readSeed(dir string) (seed, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, seedFile))
	if errIsNotExist(err) {
		return seed{}, false, nil
	}
	var sd seed
	if err == nil {
		err = json.Unmarshal(b, &sd)
	}
	if err != nil {
		return seed{}, false, fmt.Errorf("cluster: %s: %w", seedFile, err)
	}
	return sd, true, nil
}

// seedFromBackup runs at start, before Raft: on a data dir a restore left
// a seed in and that has no Raft state yet, it writes a Raft snapshot at
// the restored state's applied index, term 1, whose configuration is this
// node alone, and whose contents are the state (what Raft sends a joining
// member). Raft then starts after that index (NoSnapshotRestoreOnStart
// keeps the state file as it is), so it never hands the FSM an entry the
// state already holds, and the node, finding Raft state, does not
// bootstrap. The seed is removed once the snapshot is durable.
func (n *Node) seedFromBackup() error {
	sd, ok, err := readSeed(n.cfg.DataDir)
	if err != nil || !ok {
		return err
	}
	has, err := raft.HasExistingState(n.logs, n.stable, n.snaps)
	if err != nil {
		return fmt.Errorf("cluster: raft state: %w", err)
	}
	if !has {
		if err := n.checkSeed(sd); err != nil {
			return err
		}
		if err := n.writeSeedSnapshot(sd); err != nil {
			return err
		}
		n.log.Info("seeded a new cluster from a restored snapshot", "raft_index", sd.RaftIndex, "ledger_size", sd.LedgerSize,
			"from_node", sd.From, "snapshot_created", sd.Created)
	}
	return os.Remove(filepath.Join(n.cfg.DataDir, seedFile))
}

func (n *Node) checkSeed(sd seed) error {
	switch head := n.store.Head(); {
	case !n.cfg.Bootstrap:
		return fmt.Errorf("%w: %s holds a restored snapshot (raft index %d): start this node with --bootstrap to seed a new cluster from it, then join the others to it",
			ErrSeed, n.cfg.DataDir, sd.RaftIndex)
	case sd.NodeID != "" && sd.NodeID != n.cfg.NodeID:
		return fmt.Errorf("%w: it was restored for node %q, this is %q", ErrSeed, sd.NodeID, n.cfg.NodeID)
	case sd.RaftAddr != "" && sd.RaftAddr != n.cfg.RaftAdvertise:
		return fmt.Errorf("%w: it was restored for raft address %s, this node advertises %s", ErrSeed, sd.RaftAddr, n.cfg.RaftAdvertise)
	case head.AppliedIndex != sd.RaftIndex || head.Size != sd.LedgerSize || head.Root.String() != sd.LedgerRoot:
		return fmt.Errorf("%w: state.db is at raft index %d, ledger size %d, root %s; the seed says %d, %d, %s",
			ErrSeed, head.AppliedIndex, head.Size, head.Root, sd.RaftIndex, sd.LedgerSize, sd.LedgerRoot)
	}
	return nil
}

func (n *Node) writeSeedSnapshot(sd seed) error {
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.RaftAdvertise)}}}
	sink, err := n.snaps.Create(raft.SnapshotVersionMax, sd.RaftIndex, 1, conf, sd.RaftIndex, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: seed snapshot: %w", err)
	}
	if _, err := n.store.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: seed snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("cluster: seed snapshot: %w", err)
	}
	return nil
}
