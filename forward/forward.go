package forward

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Local is what the forwarder asks the node it runs in about leadership.
type Local interface {
	ID() string
	// Leader is the current leader's ID and the address of its
	// node-to-node channel ("" when unknown).
	Leader() (id, addr string)
	// Term is the node's current Raft term.
	Term() uint64
	// Done is closed when the node shuts down.
	Done() <-chan struct{}
}

// Config configures a Forwarder.
type Config struct {
	Peers *peer.Client
	// Hold is how long a request waits for a leader before it fails as
	// unavailable (default 5s).
	Hold time.Duration
	// Targets, for an edge node, lists the servers to relay to in turn;
	// a server node leaves it nil and relays to its leader.
	Targets func() []string
	Logger  hclog.Logger
	// Registerer, when set, is where the forwarder reports what it relayed.
	Registerer prometheus.Registerer
}

// Forwarder relays leader-only requests.
type Forwarder struct {
	cfg       Config
	log       hclog.Logger
	local     atomic.Pointer[localBox]
	forwarded *prometheus.CounterVec

	// changed is closed (and replaced) each time the local node sees
	// another leader or a new term: relays in flight to the old leader are
	// cut off and go to the new one.
	mu      sync.Mutex
	changed chan struct{}

	batchOnce sync.Once
	batch     *batcher // prepared requests to the leader (prepared.go)
}

// done is closed when the attached node shuts down (never before one is
// attached).
func (f *Forwarder) done() <-chan struct{} {
	if b := f.local.Load(); b != nil {
		return b.Done()
	}
	return nil
}

type localBox struct{ Local }

var _ cluster.Remote = (*Forwarder)(nil)

// New returns a forwarder; a server node attaches itself with Attach
// before it serves.
func New(cfg Config) *Forwarder {
	if cfg.Hold == 0 {
		cfg.Hold = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	f := &Forwarder{cfg: cfg, log: cfg.Logger.Named("forward"), changed: make(chan struct{}), forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cnv_forwarded_requests_total",
		Help: "Leader-only requests this node relayed to the leader (or an edge node to a server), by operation and outcome (ok, error, no_leader).",
	}, []string{"op", "outcome"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.forwarded)
	}
	return f
}

// count records one relayed request's outcome.
func (f *Forwarder) count(op string, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, cluster.ErrNoLeader):
		outcome = "no_leader"
	case err != nil:
		var ae *client.APIError
		if !errors.As(err, &ae) {
			outcome = "error"
		}
	}
	f.forwarded.WithLabelValues(op, outcome).Inc()
}

// Attach sets the node whose leader the forwarder follows, and starts
// watching it for leadership changes (until it shuts down).
func (f *Forwarder) Attach(l Local) {
	f.local.Store(&localBox{l})
	go f.watch(l)
}

// watchEvery is how often the forwarder looks at the local node's view of
// leadership: a relay to a leader that lost its office is cut off within
// it (elections take about a second).
const watchEvery = 20 * time.Millisecond

func (f *Forwarder) watch(l Local) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	leader, _ := l.Leader()
	term := l.Term()
	for {
		select {
		case <-t.C:
		case <-l.Done():
			return
		}
		id, _ := l.Leader()
		if tm := l.Term(); id != leader || tm != term {
			leader, term = id, tm
			f.mu.Lock()
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
		}
	}
}

// leaderChanged is closed at the next change of leader or term.
func (f *Forwarder) leaderChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// changesLeader names the operations whose success itself may move the
// leadership (a transfer; removing the leader hands it over first): they
// are never cut off and sent again on a leader change.
var changesLeader = map[string]bool{"transfer_leader": true, "remove": true}

// errLeaderChanged cuts off an attempt whose leader lost its office.
var errLeaderChanged = errors.New("forward: the leader changed")

// attempt runs one call to the leader, cut off when leadership changes:
// every relayed request is safe to send again (invocations carry request
// ids the cluster answers retries for; the rest are idempotent).
func attempt[T any](ctx context.Context, f *Forwarder, addr string, remote func(ctx context.Context, leader string) (T, error)) (T, error) {
	changed := f.leaderChanged()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-changed:
			cancel(errLeaderChanged)
		case <-actx.Done():
		}
	}()
	v, err := remote(actx, addr)
	if err != nil && errors.Is(context.Cause(actx), errLeaderChanged) && ctx.Err() == nil {
		return v, errLeaderChanged
	}
	return v, err
}

// Peers is the node-to-node client the forwarder uses.
func (f *Forwarder) Peers() *peer.Client { return f.cfg.Peers }

// LeaderAddr waits (up to the hold time or ctx) for a leader whose API
// address is known and returns it. It may be this node's own address when
// it became leader after a local attempt was refused; the relayed request
// is then served here.
func (f *Forwarder) LeaderAddr(ctx context.Context) (string, error) {
	b := f.local.Load()
	if b == nil {
		return "", cluster.ErrNoLeader
	}
	deadline := time.NewTimer(f.cfg.Hold)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, addr := b.Leader(); id != "" && addr != "" {
			return addr, nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return "", cluster.ErrNoLeader
		case <-ctx.Done():
			return "", errors.Join(cluster.ErrNoLeader, ctx.Err())
		case <-b.Done():
			return "", cluster.ErrShutdown
		}
	}
}

// Do serves a leader-only request: local first; when it answers
// cluster.ErrNotLeader, remote against the current leader, again while
// leaders answer not-leader (nothing was done then), within the hold time.
func Do[T any](ctx context.Context, f *Forwarder, op string, local func() (T, error), remote func(ctx context.Context, leader string) (T, error)) (T, error) {
	v, err := local()
	if !errors.Is(err, cluster.ErrNotLeader) {
		return v, err
	}
	return toLeader(ctx, f, op, remote)
}

func toLeader[T any](ctx context.Context, f *Forwarder, op string, remote func(ctx context.Context, leader string) (T, error)) (v T, err error) {
	defer func() { f.count(op, err) }()
	var zero T
	for {
		addr, err := f.LeaderAddr(ctx)
		if err != nil {
			return zero, err
		}
		var v T
		if changesLeader[op] {
			v, err = remote(ctx, addr)
		} else {
			v, err = attempt(ctx, f, addr, remote)
		}
		switch {
		case errors.Is(err, errLeaderChanged):
			f.log.Debug("leader changed while relaying; sending again to the new one", "op", op, "from", addr)
			continue
		case !errors.Is(err, cluster.ErrNotLeader):
			return v, err
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return zero, cluster.ErrNoLeader
		}
	}
}

// Relay sends a request as it came to the leader's node-to-node channel
// (or, on an edge node, to the public API of the first target that
// answers) and returns the answer's bytes. The leader serves it there,
// never relaying it again. An answer
// that is an API error comes back as *client.APIError; any other error is
// structured (no leader, peer unreachable).
func (f *Forwarder) Relay(ctx context.Context, path string, body []byte, hdr http.Header) (client.Raw, error) {
	if f.cfg.Targets != nil {
		return f.relayTargets(ctx, path, body, hdr)
	}
	return toLeader(ctx, f, "invoke", func(ctx context.Context, addr string) (client.Raw, error) {
		raw, err := f.cfg.Peers.RelayToMember(ctx, http.MethodPost, addr, path, bytes.NewReader(body), hdr)
		var ae *client.APIError
		switch {
		case errors.As(err, &ae) && ae.NotLeader():
			return raw, cluster.ErrNotLeader
		case err != nil && ae == nil:
			return raw, peer.Err(err)
		}
		return raw, err
	})
}

// relayTargets tries each target in turn until one answers (an API error
// is an answer); a server relays to its own leader. Edge requests are not
// marked forwarded: the server they reach forwards them once.
func (f *Forwarder) relayTargets(ctx context.Context, path string, body []byte, hdr http.Header) (raw client.Raw, err error) {
	defer func() { f.count("invoke", err) }()
	var last error = cnverr.New(cnverr.Unavailable, "no alive server known")
	for _, a := range f.cfg.Targets() {
		raw, err := f.cfg.Peers.Relay(ctx, http.MethodPost, a, path, bytes.NewReader(body), hdr)
		var ae *client.APIError
		if err == nil || errors.As(err, &ae) {
			return raw, err
		}
		last = err // a transport error before an answer: try the next server
	}
	return client.Raw{}, cnverr.Wrap(cnverr.Unavailable, last, "forward to a server")
}

// Join implements cluster.Remote: it asks the member at addr to add the
// server (that member forwards it to its leader).
func (f *Forwarder) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	return f.cfg.Peers.Join(ctx, addr, req)
}

// ReadIndex implements cluster.Remote.
func (f *Forwarder) ReadIndex(ctx context.Context) (uint64, error) {
	return toLeader(ctx, f, "read_index", func(ctx context.Context, addr string) (uint64, error) {
		return f.cfg.Peers.ReadIndex(ctx, addr)
	})
}

// RegisterNode implements cluster.Remote.
func (f *Forwarder) RegisterNode(ctx context.Context, rec cluster.SignedNode) error {
	_, err := toLeader(ctx, f, "register", func(ctx context.Context, addr string) (struct{}, error) {
		return struct{}{}, f.cfg.Peers.RegisterNode(ctx, addr, rec)
	})
	return err
}

// Remove implements cluster.Remote.
func (f *Forwarder) Remove(ctx context.Context, req cluster.RemoveRequest) error {
	_, err := toLeader(ctx, f, "remove", func(ctx context.Context, addr string) (struct{}, error) {
		return struct{}{}, f.cfg.Peers.Remove(ctx, addr, req)
	})
	return err
}

// Propose implements cluster.Remote.
func (f *Forwarder) Propose(ctx context.Context, sp cluster.SignedProposal) ([]fsm.Result, error) {
	return toLeader(ctx, f, "propose", func(ctx context.Context, addr string) ([]fsm.Result, error) {
		return f.cfg.Peers.Propose(ctx, addr, sp)
	})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
