package gossip

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"

	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/principal"
)

// FetchFunc fetches the encoded graph snapshot that member m advertises
// (graph.Snapshot.Encode bytes), typically from m's API. The caller
// verifies the bytes against m's advertisement before using them.
type FetchFunc func(ctx context.Context, m Member) ([]byte, error)

// Config configures a Gossip instance. NodeID, Role and BindAddr are
// required; RaftAddr is required on servers.
type Config struct {
	NodeID string
	Role   Role
	// BindAddr is the host:port memberlist listens on (UDP and TCP). Port 0
	// picks a free port; Gossip.Addr reports it.
	BindAddr string
	// AdvertiseAddr is the host:port others should reach this node at, when
	// it differs from BindAddr (NAT, 0.0.0.0 binds).
	AdvertiseAddr string
	RaftAddr      string
	APIAddr       string
	// Proof is advertised in the metadata (see Meta.Proof).
	Proof []byte
	// KeyID is the server's node key, advertised so that autopilot can
	// refuse a removed key or one another member holds ("" on edges).
	KeyID principal.KeyID
	// SecretKey enables memberlist's AES-GCM encryption: 16, 24 or 32
	// bytes. Nodes with different keys cannot talk to each other.
	SecretKey []byte

	// Timing is the failure detector's timing. The zero value means
	// LANTiming.
	Timing Timing
	// MetaInterval is the shortest time between two metadata broadcasts
	// caused by applied-index changes (graph changes go out at once).
	MetaInterval time.Duration
	// GraphSyncInterval is how often a member re-checks, without being
	// prompted, whether a newer graph snapshot is advertised.
	GraphSyncInterval time.Duration
	// FetchTimeout bounds one snapshot fetch.
	FetchTimeout time.Duration
	// Retention is how long dead and left members stay in Members().
	Retention time.Duration
	// Fetch, when set, is tried before state exchange to fetch a snapshot.
	Fetch FetchFunc

	// Logger is named "gossip" by New; nil means no logging.
	Logger hclog.Logger
	// Clock stamps Member.Since; nil means the system clock.
	Clock clock.Clock
}

// Timing holds memberlist's failure-detection knobs.
type Timing struct {
	ProbeInterval       time.Duration
	ProbeTimeout        time.Duration
	GossipInterval      time.Duration
	PushPullInterval    time.Duration
	TCPTimeout          time.Duration
	GossipToTheDeadTime time.Duration
	// DeadNodeReclaimTime lets a dead node come back under the same name at
	// a different address after this long (0: only at the same address).
	DeadNodeReclaimTime time.Duration
	SuspicionMult       int
	RetransmitMult      int
	// UpdateTimeout bounds the wait for a metadata or leave broadcast.
	UpdateTimeout time.Duration
}

// LANTiming is memberlist.DefaultLANConfig's timing: failures are detected
// in a few seconds on a LAN.
func LANTiming() Timing {
	c := memberlist.DefaultLANConfig()
	return Timing{
		ProbeInterval:       c.ProbeInterval,
		ProbeTimeout:        c.ProbeTimeout,
		GossipInterval:      c.GossipInterval,
		PushPullInterval:    c.PushPullInterval,
		TCPTimeout:          c.TCPTimeout,
		GossipToTheDeadTime: c.GossipToTheDeadTime,
		DeadNodeReclaimTime: c.DeadNodeReclaimTime,
		SuspicionMult:       c.SuspicionMult,
		RetransmitMult:      c.RetransmitMult,
		UpdateTimeout:       5 * time.Second,
	}
}

// FastTiming is for in-process tests on loopback: failures are detected in
// well under a second and push/pull runs every second.
func FastTiming() Timing {
	return Timing{
		ProbeInterval:       100 * time.Millisecond,
		ProbeTimeout:        50 * time.Millisecond,
		GossipInterval:      20 * time.Millisecond,
		PushPullInterval:    time.Second,
		TCPTimeout:          time.Second,
		GossipToTheDeadTime: 2 * time.Second,
		SuspicionMult:       3,
		RetransmitMult:      3,
		UpdateTimeout:       2 * time.Second,
	}
}

// withDefaults fills in zero values.
func (c Config) withDefaults() Config {
	if c.Timing == (Timing{}) {
		c.Timing = LANTiming()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.MetaInterval, time.Second)
	def(&c.GraphSyncInterval, 5*time.Second)
	def(&c.FetchTimeout, 10*time.Second)
	def(&c.Retention, 24*time.Hour)
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	return c
}

// Validate checks the configuration; every error wraps ErrInvalidConfig.
func (c *Config) Validate() error {
	if err := principal.CheckID("node id", c.NodeID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if !c.Role.Valid() {
		return fmt.Errorf("%w: role %q (want server or edge)", ErrInvalidConfig, c.Role)
	}
	if c.Role == RoleServer && c.RaftAddr == "" {
		return fmt.Errorf("%w: a server needs a raft address", ErrInvalidConfig)
	}
	if err := checkAddrs(c.RaftAddr, c.APIAddr); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if c.KeyID != "" && !isKeyID(c.KeyID) {
		return fmt.Errorf("%w: key id %q", ErrInvalidConfig, c.KeyID)
	}
	if _, _, err := splitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("%w: bind address %q: %v", ErrInvalidConfig, c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("%w: advertise address %q: %v", ErrInvalidConfig, c.AdvertiseAddr, err)
		}
	}
	if c.Timing != (Timing{}) {
		if err := c.Timing.validate(); err != nil {
			return err
		}
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: secret key of %d bytes (want 16, 24 or 32)", ErrInvalidConfig, len(c.SecretKey))
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// memberlistConfig builds memberlist's configuration around our delegate
// and transport.
func (c *Config) memberlistConfig(d *delegate, t memberlist.Transport, port int, logger *log.Logger) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeID
	host, _, _ := splitHostPort(c.BindAddr)
	mc.BindAddr, mc.BindPort, mc.AdvertisePort = host, port, port
	if c.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitHostPort(c.AdvertiseAddr)
	}
	mc.Transport = t
	mc.Delegate, mc.Events, mc.Merge = d, d, d
	mc.SecretKey = c.SecretKey
	mc.Ping = pingDelegate{d.g}
	mc.Logger = logger
	c.Timing.apply(mc)
	return mc
}

func (t Timing) validate() error {
	for name, d := range map[string]time.Duration{
		"probe interval": t.ProbeInterval, "probe timeout": t.ProbeTimeout,
		"gossip interval": t.GossipInterval, "push/pull interval": t.PushPullInterval,
		"tcp timeout": t.TCPTimeout, "gossip-to-the-dead time": t.GossipToTheDeadTime,
		"update timeout": t.UpdateTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%w: timing: %s is %v, must be positive", ErrInvalidConfig, name, d)
		}
	}
	if t.ProbeTimeout >= t.ProbeInterval {
		return fmt.Errorf("%w: timing: probe timeout %v must be below probe interval %v", ErrInvalidConfig, t.ProbeTimeout, t.ProbeInterval)
	}
	if t.SuspicionMult < 1 || t.RetransmitMult < 1 {
		return fmt.Errorf("%w: timing: suspicion mult %d and retransmit mult %d must be at least 1", ErrInvalidConfig, t.SuspicionMult, t.RetransmitMult)
	}
	return nil
}

func (t Timing) apply(mc *memberlist.Config) {
	mc.ProbeInterval, mc.ProbeTimeout = t.ProbeInterval, t.ProbeTimeout
	mc.GossipInterval, mc.PushPullInterval = t.GossipInterval, t.PushPullInterval
	mc.TCPTimeout, mc.GossipToTheDeadTime = t.TCPTimeout, t.GossipToTheDeadTime
	mc.DeadNodeReclaimTime = t.DeadNodeReclaimTime
	mc.SuspicionMult, mc.RetransmitMult = t.SuspicionMult, t.RetransmitMult
}
