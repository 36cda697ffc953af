package cluster

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Node is one cnv server: Raft, the FSM over the ledger file, the leader's
// proposal pipeline and the node's identity.
type Node struct {
	cfg Config
	log hclog.Logger

	key   ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID principal.KeyID
	heads *heads

	store   *ledger.Store
	fsm     *fsm.FSM
	applied *indexNotifier
	metrics *nodeMetrics

	raft   *raft.Raft
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	trans  raft.Transport
	// bolt and netTrans are what the node built itself (no LogStore or
	// Transport in the config); only those it closes.
	bolt     *raftboltdb.BoltStore
	netTrans *raft.NetworkTransport
	// guard checks every RPC before Raft sees it (guard.go).
	guard *guard

	gossip *gossip.Gossip
	props  *proposer
	// memberMu makes the leader's membership changes (joins, removals,
	// moves, autopilot's actions) one at a time (changes.go).
	memberMu sync.Mutex
	// warnedRemoved and warnedMoved: the operator was told this node was
	// removed (at that index) or listens elsewhere than configured.
	warnedRemoved atomic.Uint64
	warnedMoved   atomic.Bool
	verifier      *delegation.Verifier
	vcache        *invocation.VerifyCache

	// barrierTerm is the last term in which this node, as leader, applied
	// a barrier (see termBarrier).
	barrierTerm atomic.Uint64
	// backups counts the snapshots being served (backup.go).
	backups atomic.Int32

	shutdownCh   chan struct{}
	shutdownOnce sync.Once
	wg           sync.WaitGroup
}

// New opens the node's data directory and starts Raft. It bootstraps a new
// cluster only when asked and when the directory holds no Raft state.
func New(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.Named("cluster"), shutdownCh: make(chan struct{}), metrics: newNodeMetrics()}
	dir := filepath.Join(cfg.DataDir, "raft")
	if cfg.LogStore != nil && cfg.SnapshotStore != nil {
		dir = cfg.DataDir // nothing of Raft's lives in files
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	if err := n.loadKey(); err != nil {
		return nil, err
	}
	if err := n.openState(); err != nil {
		return nil, err
	}
	if err := n.openRaft(); err != nil {
		n.closeState()
		return nil, err
	}
	n.verifier = delegation.NewVerifier(1 << 16)
	n.vcache = invocation.NewVerifyCache(1 << 16)
	n.props = newProposer(n)
	n.goLoop(n.props.run)
	n.goLoop(n.props.complete)
	// Gossip starts before the loops that read n.gossip.
	if err := n.startGossip(); err != nil {
		n.Shutdown()
		return nil, err
	}
	if err := n.registerMetrics(cfg.Metrics); err != nil {
		n.Shutdown()
		return nil, fmt.Errorf("cluster: metrics: %w", err)
	}
	n.goLoop(n.maintain)
	n.log.Info("node started", "node_id", cfg.NodeID, "raft", cfg.RaftAdvertise, "api", cfg.APIAddr, "key_id", n.keyID)
	return n, nil
}

func (n *Node) goLoop(f func()) {
	n.wg.Add(1)
	go func() { defer n.wg.Done(); f() }()
}

// loadKey reads DataDir/node.key, generating the pair on first start.
func (n *Node) loadKey() error {
	base := filepath.Join(n.cfg.DataDir, "node")
	priv, err := principal.LoadPrivate(base + ".key")
	if errors.Is(err, fs.ErrNotExist) {
		var pub ed25519.PublicKey
		pub, priv, err = principal.Generate(rand.Reader)
		if err == nil {
			err = principal.WriteKeyPair(base, pub, priv)
		}
	}
	if err != nil {
		return fmt.Errorf("cluster: node key: %w", err)
	}
	n.key = priv
	n.pub = priv.Public().(ed25519.PublicKey)
	n.keyID = principal.IDOf(n.pub)
	n.heads = newHeads(priv)
	return nil
}

// openState opens state.db (the ledger and the replicated state). The
// file is written without fsync per commit, as etcd's backend is: the Raft
// log (fsynced) is the durable record, and the file records the index it
// has applied, so a restart replays whatever a crash lost. A file that
// fails to open or to verify is moved aside and rebuilt from the last
// snapshot and the log, when this node has them; otherwise the node
// refuses to start.
func (n *Node) openState() error {
	path := filepath.Join(n.cfg.DataDir, "state.db")
	st, f, err := n.tryOpenState(path)
	if err != nil && !errors.Is(err, ledger.ErrLocked) && n.hasRaftLog() {
		aside := fmt.Sprintf("%s.damaged-%d", path, n.cfg.Clock.Now().Unix())
		n.log.Error("state file is damaged; moving it aside and rebuilding from the snapshot and the raft log", "error", err, "moved_to", aside)
		n.metrics.damage.WithLabelValues("state_file").Inc()
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("cluster: state file damaged (%v) and cannot be moved aside: %w", err, rerr)
		}
		st, f, err = n.tryOpenState(path)
	}
	if err != nil {
		return fmt.Errorf("cluster: state file %s: %w", path, err)
	}
	n.store, n.fsm = st, f
	n.applied = newIndexNotifier(f.AppliedIndex())
	return nil
}

func (n *Node) tryOpenState(path string) (*ledger.Store, *fsm.FSM, error) {
	if err := checkBoltFile(path); err != nil {
		return nil, nil, err
	}
	st, err := ledger.Open(path, ledger.Options{NoSync: true, InitialMmapSize: 64 << 20})
	if err != nil {
		return nil, nil, err
	}
	if !n.cfg.SkipVerifyOnStart {
		rep, err := st.Verify(ledger.VerifyOptions{Structure: true})
		if err == nil && !rep.OK {
			err = fmt.Errorf("%w: %d problems, first at event %v", ledger.ErrCorrupt, rep.ProblemCount, rep.FirstBadIndex)
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	f, err := fsm.New(st, n.cfg.Logger.Named("fsm"))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, f, nil
}

// hasRaftLog reports whether the node holds a Raft log to rebuild the
// state from: the data dir's raft.db, or entries or a snapshot in the
// stores the caller passed (they are open before the state is).
func (n *Node) hasRaftLog() bool {
	if ls := n.cfg.LogStore; ls != nil {
		if last, err := ls.LastIndex(); err == nil && last > 0 {
			return true
		}
		if ss := n.cfg.SnapshotStore; ss != nil {
			metas, err := ss.List()
			return err == nil && len(metas) > 0
		}
		ents, err := os.ReadDir(filepath.Join(n.cfg.DataDir, "raft", "snapshots"))
		return err == nil && len(ents) > 0
	}
	fi, err := os.Stat(filepath.Join(n.cfg.DataDir, "raft", "raft.db"))
	return err == nil && fi.Size() > 0
}

func (n *Node) closeState() {
	if n.bolt != nil {
		n.bolt.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

func (n *Node) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.Logger = n.cfg.Logger.Named("raft")
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	rc.NoLegacyTelemetry = true // per-peer metrics only as labels
	// The FSM's state lives in state.db and survives restarts; entries it
	// already holds are skipped. Restoring the last snapshot on start would
	// only rewrite the file (see restoreIfBehind for the lost-file case).
	rc.NoSnapshotRestoreOnStart = true
	return rc
}

func (n *Node) openRaft() error {
	dir := filepath.Join(n.cfg.DataDir, "raft")
	logName := filepath.Join(dir, "raft.db")
	if n.cfg.LogStore != nil {
		// The caller's stores: there is no file to check for truncation
		// (checkBoltFile); the entry scan below still applies.
		n.logs, n.stable, logName = n.cfg.LogStore, n.cfg.StableStore, "(the configured log store)"
	} else {
		if err := checkBoltFile(logName); err != nil {
			return fmt.Errorf("cluster: raft log %s is damaged (%v); this node cannot serve: remove it from the cluster (cnv-node cluster remove %s), remove its data dir and join it again", logName, err, n.cfg.NodeID)
		}
		ls, err := raftboltdb.New(raftboltdb.Options{Path: logName})
		if err != nil {
			return fmt.Errorf("cluster: raft log: %w", err)
		}
		n.bolt, n.logs, n.stable = ls, ls, ls
	}
	if err := checkRaftLog(n.logs); err != nil {
		return fmt.Errorf("cluster: raft log %s is damaged (%v); this node cannot serve: remove it from the cluster (cnv-node cluster remove %s), remove its data dir and join it again", logName, err, n.cfg.NodeID)
	}
	if n.cfg.SnapshotStore != nil {
		n.snaps = n.cfg.SnapshotStore
	} else {
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, n.cfg.Logger.Named("snapshot"))
		if err != nil {
			return fmt.Errorf("cluster: snapshots: %w", err)
		}
		n.snaps = snaps
	}
	if err := n.restoreIfBehind(); err != nil {
		return err
	}
	if n.cfg.Transport != nil {
		n.trans = n.cfg.Transport
	} else {
		stream := &streamLayer{ln: n.cfg.RaftListener, advertise: n.cfg.RaftAdvertise, dial: n.cfg.Dial}
		n.netTrans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: stream, MaxPool: 4, Timeout: 10 * time.Second, Logger: n.cfg.Logger.Named("raft-net"),
		})
		n.trans = n.netTrans
	}
	if err := n.seedFromBackup(); err != nil { // a restored snapshot's first start (restore.go)
		n.closeTransport()
		return err
	}
	has, err := raft.HasExistingState(n.logs, n.stable, n.snaps)
	if err != nil {
		return fmt.Errorf("cluster: raft state: %w", err)
	}
	n.guard = newGuard(n.trans, nil, n.refusedRPC)
	r, err := raft.NewRaft(n.raftConfig(), &notifyingFSM{FSM: n.fsm, n: n.applied, m: n.metrics}, n.logs, n.stable, n.snaps, n.guard)
	if err != nil {
		n.closeTransport()
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.guard.follow(r)
	n.raft = r
	if has {
		n.log.Info("existing raft state found; not bootstrapping")
		return nil
	}
	return n.bootstrap()
}

func (n *Node) bootstrap() error {
	var servers []raft.Server
	switch {
	case len(n.cfg.BootstrapPeers) > 0:
		for _, p := range n.cfg.BootstrapPeers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr), Suffrage: raft.Voter})
		}
	case n.cfg.Bootstrap:
		servers = []raft.Server{{ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.RaftAdvertise), Suffrage: raft.Voter}}
	default:
		return nil
	}
	n.log.Info("bootstrapping a new cluster", "servers", len(servers))
	if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	return nil
}

// restoreIfBehind restores the newest snapshot into the FSM when the state
// file is behind it (the file was lost or replaced): Raft will only replay
// entries after the snapshot, so the file must hold everything before it.
func (n *Node) restoreIfBehind() error {
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 {
		return err
	}
	if metas[0].Index <= n.fsm.AppliedIndex() {
		return nil
	}
	n.log.Warn("state file is behind the last snapshot; restoring it", "state_index", n.fsm.AppliedIndex(), "snapshot_index", metas[0].Index)
	_, rc, err := n.snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("cluster: open snapshot: %w", err)
	}
	if err := n.fsm.Restore(rc); err != nil {
		return err
	}
	n.applied.advance(n.fsm.AppliedIndex())
	return nil
}

// Shutdown stops the node: Raft, the pipeline and the files. It is safe to
// call more than once.
func (n *Node) Shutdown() error {
	var err error
	n.shutdownOnce.Do(func() {
		close(n.shutdownCh)
		if n.gossip != nil {
			n.gossip.Leave(time.Second)
			n.gossip.Shutdown()
		}
		err = n.raft.Shutdown().Error()
		n.closeTransport()
		n.props.stop()
		n.wg.Wait()
		n.applied.close()
		n.closeState()
		n.log.Info("node stopped")
	})
	return err
}

// refusedRPC logs and counts an RPC the guard refused.
func (n *Node) refusedRPC(kind string, err error) {
	n.metrics.refusedRPCs.WithLabelValues(strings.TrimPrefix(kind, "*raft.")).Inc()
	n.log.Warn("refused a raft RPC", "rpc", kind, "error", err)
}

// closeTransport stops the guard and closes the transport the node built
// (a configured one belongs to the caller).
func (n *Node) closeTransport() {
	if n.guard != nil {
		n.guard.stop()
	}
	if n.netTrans != nil {
		n.netTrans.Close()
	}
}

// ID is the node's ID.
func (n *Node) ID() string { return n.cfg.NodeID }

// KeyID is the node key's ID (the signer of its certificates).
func (n *Node) KeyID() principal.KeyID { return n.keyID }

// PublicKey is the node's public key.
func (n *Node) PublicKey() ed25519.PublicKey { return n.pub }

// FSM is the node's state machine (read side).
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Store is the node's ledger store (read side).
func (n *Node) Store() *ledger.Store { return n.store }

// Raft exposes the Raft instance (status, metrics, tests).
func (n *Node) Raft() *raft.Raft { return n.raft }

// APIAddr is the node's own API address.
func (n *Node) APIAddr() string { return n.cfg.APIAddr }

// HasState reports whether the node has Raft state (it was bootstrapped or
// joined before).
func (n *Node) HasState() bool {
	has, err := raft.HasExistingState(n.logs, n.stable, n.snaps)
	return err == nil && has
}

// RaftAddr is the Raft address peers dial.
func (n *Node) RaftAddr() string { return n.cfg.RaftAdvertise }

// BootstrapWith bootstraps a new cluster with exactly these servers. Every
// initial server must use the same list. A node that already has state
// ignores it.
func (n *Node) BootstrapWith(peers []Peer) error {
	if n.HasState() {
		return nil
	}
	n.cfg.BootstrapPeers = peers
	err := n.bootstrap()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return nil
	}
	return err
}

// Now is the node's clock reading (tests and fault injection shift it).
func (n *Node) Now() time.Time { return n.cfg.Clock.Now() }
