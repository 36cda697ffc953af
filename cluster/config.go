package cluster

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/runtime/clock"
)

// Config configures a Node.
type Config struct {
	// NodeID names the node in the Raft configuration and the ledger.
	NodeID string
	// DataDir holds state.db (ledger and replicated state), raft/ (log,
	// stable store, snapshots) and node.key (generated on first start).
	DataDir string
	// RaftListener is the listener for Raft traffic (the caller binds it,
	// so tests can use port 0); required unless Transport is set.
	// RaftAdvertise is the address peers dial; empty means the listener's
	// address (or the Transport's local address).
	RaftListener  net.Listener
	RaftAdvertise string

	// Transport, when set, carries Raft's traffic instead of the
	// NetworkTransport the node builds over RaftListener (tests pass a
	// raft.InmemTransport). RaftListener and Dial must then be nil. The
	// caller owns it: Shutdown does not close it.
	Transport raft.Transport
	// LogStore and StableStore (both or neither) replace the raft-boltdb
	// file DataDir/raft/raft.db; SnapshotStore replaces the file snapshots
	// in DataDir/raft. The caller owns what it passes (tests keep a
	// raft.InmemStore and raft.InmemSnapshotStore across a restart) and
	// Shutdown does not close it. nil keeps the files.
	LogStore      raft.LogStore
	StableStore   raft.StableStore
	SnapshotStore raft.SnapshotStore
	// APIAddr is this node's HTTP API address as peers should dial it.
	APIAddr string
	// Bootstrap starts a new single-node cluster when the data dir has no
	// Raft state. BootstrapPeers, when set, bootstraps with exactly those
	// servers (bootstrap-expect: every initial node uses the same list).
	Bootstrap      bool
	BootstrapPeers []Peer
	// AdminKeys are installed by the first leader of a new cluster.
	AdminKeys []ed25519.PublicKey
	// Remote reaches other nodes and the leader. Required.
	Remote Remote
	// Dial rewrites the address Raft dials (fault injection); nil dials
	// directly.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)

	Logger hclog.Logger
	Clock  clock.Clock

	// Gossip, when set, runs memberlist beside Raft: membership with
	// failure detection, graph snapshots for members, and autopilot on the
	// leader (servers join as non-voters and are promoted once stable).
	Gossip *GossipConfig

	// SkipVerifyOnStart skips verifying state.db (its bbolt structure and
	// every event against the Merkle tree) when the node starts.
	SkipVerifyOnStart bool

	// Raft tuning; zero values take the defaults below.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
	// MaxBatchCommands bounds the commands group-committed in one entry.
	MaxBatchCommands int
	// MaxInflight bounds the Raft entries proposed and not yet applied.
	MaxInflight int

	// Metrics, when set, is where the node registers what it reports
	// (Raft state, ledger size, decisions, commit and apply latencies).
	Metrics prometheus.Registerer
}

// Protocols on a node's Raft port (package mux): Raft itself, and the
// node-to-node calls.
const (
	MuxRaft byte = 'R'
	MuxRPC  byte = 'C'
)

// Peer is a server in a bootstrap configuration.
type Peer struct {
	ID       string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
}

func (c *Config) setDefaults() error {
	if c.NodeID == "" || c.DataDir == "" || (c.RaftListener == nil && c.Transport == nil) || c.APIAddr == "" {
		return errors.New("cluster: NodeID, DataDir, RaftListener and APIAddr are required")
	}
	if c.Remote == nil {
		return errors.New("cluster: Remote is required")
	}
	if c.Transport != nil && (c.RaftListener != nil || c.Dial != nil) {
		return errors.New("cluster: a Transport replaces RaftListener and Dial; set one or the other")
	}
	if (c.LogStore == nil) != (c.StableStore == nil) {
		return errors.New("cluster: LogStore and StableStore are set together")
	}
	if c.Transport != nil {
		// Any address the transport routes (an in-memory one need not be
		// host:port).
		if c.RaftAdvertise == "" {
			c.RaftAdvertise = string(c.Transport.LocalAddr())
		}
	} else {
		if c.RaftAdvertise == "" {
			c.RaftAdvertise = c.RaftListener.Addr().String()
		}
		if _, _, err := net.SplitHostPort(c.RaftAdvertise); err != nil {
			return fmt.Errorf("cluster: raft advertise address %q: %w", c.RaftAdvertise, err)
		}
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	setDur(&c.HeartbeatTimeout, time.Second)
	setDur(&c.ElectionTimeout, time.Second)
	setDur(&c.LeaderLeaseTimeout, 500*time.Millisecond)
	setDur(&c.CommitTimeout, 5*time.Millisecond)
	setDur(&c.SnapshotInterval, 30*time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.MaxBatchCommands == 0 {
		c.MaxBatchCommands = 2048
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 16
	}
	return nil
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
