package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/cluster/hotlease"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// ServiceConfig configures a node's hot path (`cnv-node agent --hot-addr`).
type ServiceConfig struct {
	Node     Node
	Listener net.Listener
	Log      hclog.Logger
	Clock    clock.Clock
	// Dispatcher overrides hotpath.DefaultConfig (Clock and BatchSink are
	// always set here).
	Dispatcher *hotpath.Config
	// FlushInterval is how often batches are cut and committed (default
	// 200ms).
	FlushInterval time.Duration
	// Builtins configure the built-in capabilities hot.counter and hot.echo.
	Builtins server.BuiltinOptions
	// Authority tunes leases and the revocation watch (Node, Catalog, Clock
	// and Log are set here).
	Authority Config
	// Registerer, when set, is where the hot path reports its counters.
	Registerer prometheus.Registerer
}

// Service is a running hot path: dispatcher, built-ins, authority,
// recorder and hot-path server.
type Service struct {
	Dispatcher *hotpath.Dispatcher
	Catalog    *server.Catalog
	Builtins   *server.Builtins
	Authority  *Authority
	Recorder   *hotlease.Recorder
	Server     *server.Server

	cancel context.CancelFunc
	done   chan struct{}
	served chan struct{}
}

// Start builds and starts the hot path and serves it on cfg.Listener.
func Start(cfg ServiceConfig) (*Service, error) {
	if cfg.Node == nil || cfg.Listener == nil {
		return nil, fmt.Errorf("%w: service needs a node and a listener", ErrBadConfig)
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	s := &Service{Catalog: server.NewCatalog(), done: make(chan struct{}), served: make(chan struct{})}
	s.Recorder = hotlease.NewRecorder(cfg.Node, cfg.Log.Named("hotnode"), cfg.FlushInterval)
	if err := s.startDispatcher(cfg); err != nil {
		return nil, err
	}
	if err := s.startServer(cfg); err != nil {
		s.Dispatcher.Stop(context.Background())
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if cfg.Registerer != nil {
		if err := s.registerMetrics(cfg.Registerer); err != nil {
			cancel()
			s.Server.Close()
			s.Dispatcher.Stop(context.Background())
			return nil, err
		}
	}
	go func() { defer close(s.done); s.Recorder.Run(ctx, s.Dispatcher) }()
	go func() { defer close(s.served); s.Server.Serve(cfg.Listener) }()
	return s, nil
}

// registerMetrics reports the dispatcher's, the recorder's and the
// authority's counters.
func (s *Service) registerMetrics(r prometheus.Registerer) error {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{
		counter("cnv_hot_invocations_total", "Hot-path invocations this node's dispatcher accepted.",
			func() float64 { return float64(s.Dispatcher.Totals().Accepted) }),
		counter("cnv_hot_refused_total", "Hot-path invocations this node refused (window, quota, closed session, …).",
			func() float64 { return float64(s.Dispatcher.Totals().Rejected + s.Server.Stats().Refused) }),
		counter("cnv_hot_committed_total", "Hot-path invocations accounted for in committed HotPathBatch events.",
			func() float64 { return float64(s.Recorder.Stats().Committed) }),
		counter("cnv_hot_leased_uses_total", "Uses of max_uses links leased through Raft to this node's hot-path sessions.",
			func() float64 { return float64(s.Authority.Leased()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cnv_hot_connections", Help: "Open hot-path connections."},
			func() float64 { return float64(s.Server.Stats().Conns) }),
	} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) startDispatcher(cfg ServiceConfig) error {
	dc := hotpath.DefaultConfig()
	if cfg.Dispatcher != nil {
		dc = *cfg.Dispatcher
	}
	dc.Clock, dc.BatchSink = cfg.Clock, s.Recorder.Sink
	d, err := hotpath.New(dc)
	if err != nil {
		return err
	}
	if s.Builtins, err = server.RegisterBuiltins(d, s.Catalog, cfg.Builtins); err != nil {
		return err
	}
	s.Dispatcher = d
	return d.Start()
}

func (s *Service) startServer(cfg ServiceConfig) error {
	ac := cfg.Authority
	ac.Node, ac.Catalog, ac.Clock, ac.Log = cfg.Node, s.Catalog, cfg.Clock, cfg.Log.Named("hotnode")
	a, err := NewAuthority(ac)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{Dispatcher: s.Dispatcher, Authority: a, Log: cfg.Log,
		Clock: cfg.Clock, NodeID: cfg.Node.ID()})
	if err != nil {
		a.Close()
		return err
	}
	s.Authority, s.Server = a, srv
	return nil
}

// Close ends every session (settling their leases), stops the dispatcher
// (closing the last batches) and commits what is pending. The cluster node
// must still be running.
func (s *Service) Close(ctx context.Context) error {
	s.Server.Close()
	<-s.served
	s.Authority.Close()
	s.cancel()
	<-s.done
	_, stopErr := s.Dispatcher.Stop(ctx)
	return errors.Join(stopErr, s.Recorder.Flush(ctx))
}
