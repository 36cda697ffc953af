package gossip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"

	"github.com/cnv-project/cnv/runtime/limits"
)

// EventType says what happened to a member.
type EventType string

const (
	// EventJoin: a member appeared, or came back after dying or leaving.
	EventJoin EventType = "join"
	// EventLeave: a member died (State dead) or left (State left).
	EventLeave EventType = "leave"
	// EventUpdate: a member's metadata or suspicion changed.
	EventUpdate EventType = "update"
	// EventGraph: this node swapped in a newer graph snapshot; Member is the
	// local member.
	EventGraph EventType = "graph"
)

// Event is a membership change as this node saw it.
type Event struct {
	Type   EventType `json:"type"`
	Member Member    `json:"member"`
}

// Gossip is one node's membership in the cluster's gossip pool. Its
// methods are safe for concurrent use.
type Gossip struct {
	cfg   Config
	log   hclog.Logger
	ml    *memberlist.Memberlist
	addr  string // the advertised gossip address, fixed at start
	tr    *countingTransport
	table *table

	applied atomic.Uint64
	meta    localMeta
	graph   graphHolder

	events  chan Event
	dropped atomic.Uint64

	metaKick   chan struct{}
	urgentKick chan struct{}
	syncKick   chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeMu  sync.RWMutex // guards closed against emit
	closed   bool
	leaveMu  sync.Mutex
	shutdown sync.Once
}

// New starts gossip on cfg.BindAddr. The node is alone until Join.
func New(cfg Config) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.Named("gossip")
	host, port, _ := splitHostPort(cfg.BindAddr)
	tr, err := newTransport(host, port, &cfg)
	if err != nil {
		return nil, fmt.Errorf("gossip: bind %s: %w", cfg.BindAddr, err)
	}
	g := newGossip(cfg, tr)
	ml, err := memberlist.Create(cfg.memberlistConfig(&delegate{g}, tr, tr.port(), g.memberlistLogger()))
	if err != nil {
		_ = tr.Shutdown()
		g.cancel()
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	g.ml = ml
	g.addr = ml.LocalNode().Address()
	g.wg.Add(2)
	go g.metaLoop()
	go g.syncLoop()
	g.log.Info("gossip started", "node", cfg.NodeID, "role", cfg.Role, "addr", g.Addr())
	return g, nil
}

func newGossip(cfg Config, tr *countingTransport) *Gossip {
	g := &Gossip{
		cfg:        cfg,
		log:        cfg.Logger,
		tr:         tr,
		table:      newTable(),
		events:     make(chan Event, limits.GossipEventBuffer),
		metaKick:   make(chan struct{}, 1),
		urgentKick: make(chan struct{}, 1),
		syncKick:   make(chan struct{}, 1),
	}
	g.graph.init()
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.refreshMeta()
	return g
}

// Addr is the gossip address other nodes reach this one at. It is read
// once at start: memberlist mutates its local node record in place on
// every metadata update.
func (g *Gossip) Addr() string { return g.addr }

// NodeID is this node's id.
func (g *Gossip) NodeID() string { return g.cfg.NodeID }

// Join contacts the given gossip addresses and exchanges state with each.
// It returns how many answered; it fails only when none did.
func (g *Gossip) Join(addrs []string) (int, error) {
	if g.isClosed() {
		return 0, ErrShutdown
	}
	n, err := g.ml.Join(addrs)
	if n == 0 {
		return 0, fmt.Errorf("%w: %v: %v", ErrJoin, addrs, err)
	}
	return n, nil
}

// Members returns every member this node knows, itself included, sorted by
// node id. Dead and left members stay for Config.Retention.
func (g *Gossip) Members() []Member {
	return g.table.list(g.cfg.Clock.Now(), g.cfg.Retention)
}

// Member returns one member by node id.
func (g *Gossip) Member(id string) (Member, bool) { return g.table.get(id) }

// Events delivers membership events. They are hints: when the consumer
// falls GossipEventBuffer events behind, newer ones are dropped (see
// Dropped), so consumers should re-read Members on each event. The channel
// is closed by Shutdown.
func (g *Gossip) Events() <-chan Event { return g.events }

// Dropped is how many events were dropped because nobody read them.
func (g *Gossip) Dropped() uint64 { return g.dropped.Load() }

// Traffic returns this node's gossip traffic counters.
func (g *Gossip) Traffic() Traffic { return g.tr.c.snapshot() }

// SetApplied advertises the highest Raft index this node has applied.
// Broadcasts are coalesced to one per Config.MetaInterval.
func (g *Gossip) SetApplied(index uint64) {
	for {
		cur := g.applied.Load()
		if index <= cur {
			return
		}
		if g.applied.CompareAndSwap(cur, index) {
			kick(g.metaKick)
			return
		}
	}
}

// Leave announces a graceful departure, so the others record this node as
// left rather than dead, and waits up to timeout for the announcement to
// go out. Call Shutdown afterwards.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.leaveMu.Lock()
	defer g.leaveMu.Unlock()
	if g.isClosed() {
		return ErrShutdown
	}
	g.meta.setLeaving()
	var errs []error
	if g.refreshMeta() {
		if err := g.ml.UpdateNode(timeout); err != nil {
			errs = append(errs, fmt.Errorf("gossip: announce leaving: %w", err))
		}
	}
	if err := g.ml.Leave(timeout); err != nil {
		errs = append(errs, fmt.Errorf("gossip: leave: %w", err))
	}
	return errors.Join(errs...)
}

// Shutdown stops gossip without announcing anything: the others will
// detect a failure unless Leave was called first. It is idempotent.
func (g *Gossip) Shutdown() error {
	var err error
	g.shutdown.Do(func() {
		g.cancel()
		g.leaveMu.Lock() // memberlist panics on a Leave after Shutdown
		err = g.ml.Shutdown()
		g.leaveMu.Unlock()
		g.wg.Wait()
		g.closeMu.Lock()
		g.closed = true
		close(g.events)
		g.closeMu.Unlock()
		g.log.Info("gossip stopped")
	})
	return err
}

func (g *Gossip) isClosed() bool { return g.ctx.Err() != nil }

// emit queues an event without ever blocking memberlist.
func (g *Gossip) emit(ev Event) {
	g.closeMu.RLock()
	defer g.closeMu.RUnlock()
	if g.closed {
		return
	}
	select {
	case g.events <- ev:
	default:
		g.dropped.Add(1)
	}
}

// kick wakes a loop without blocking; one pending wake-up is enough.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
