package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// Config configures a Server.
type Config struct {
	Node   Node
	State  State
	Ledger Ledger
	// Forward relays leader-only requests to the leader.
	Forward *forward.Forwarder
	// Metrics serves /metrics (nil: 404). Registerer, when set, is where
	// the API registers its own metrics (requests by route and status,
	// latency, invocations refused before Raft).
	Metrics    http.Handler
	Registerer prometheus.Registerer
	// OnLeave is called after the node left the cluster through the API
	// (the agent then shuts down).
	OnLeave func()
	// Token, when set, is required (header X-Cnv-Token) on membership
	// changes (join, leave, remove) and node-to-node calls; without it
	// anyone who reaches the API can change the Raft configuration.
	Token  string
	Logger hclog.Logger
}

// Server is the HTTP API of one node.
type Server struct {
	cfg     Config
	node    Node
	state   State
	ledger  Ledger
	log     hclog.Logger
	metrics *apiMetrics
	http    *http.Server
	mux     *http.ServeMux
	// patterns are the registered routes, in order.
	patterns []string
}

// NewServer returns a server for cfg.Node.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &Server{cfg: cfg, node: cfg.Node, state: cfg.State, ledger: cfg.Ledger, log: cfg.Logger.Named("http"), mux: http.NewServeMux(),
		metrics: newAPIMetrics(cfg.Registerer)}
	s.routes()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	return s
}

// handleFunc registers a route and remembers its pattern (Routes).
func (s *Server) handleFunc(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// Routes lists the patterns the server registers ("GET /healthz").
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

func (s *Server) routes() {
	s.handleFunc("POST /v1/invoke", s.handleInvoke)
	s.handleFunc("GET /v1/cluster/status", s.handleStatus)
	s.handleFunc("GET /v1/cluster/members", s.handleMembers)
	s.handleFunc("GET /v1/cluster/keys", s.handleKeys)
	s.handleFunc("POST /v1/cluster/join", s.guarded(s.handleJoin))
	s.handleFunc("POST /v1/cluster/leave", s.guarded(s.handleLeave))
	s.handleFunc("POST /v1/cluster/remove", s.guarded(s.handleRemove))
	s.handleFunc("POST /v1/cluster/transfer-leader", s.guarded(s.handleTransferLeader))
	s.handleFunc("POST /v1/internal/register", s.guarded(s.handleRegister))
	s.handleFunc("GET /v1/internal/read-index", s.guarded(s.handleReadIndex))
	s.handleFunc("POST /v1/internal/propose", s.guarded(s.handlePropose))
	s.handleFunc("GET /v1/ledger/status", s.handleLedgerStatus)
	s.handleFunc("GET /v1/ledger/events", s.handleLedgerEvents)
	s.handleFunc("GET /v1/ledger/events/{index}", s.handleLedgerEvent)
	s.handleFunc("GET /v1/ledger/query", s.handleLedgerQuery)
	s.handleFunc("GET /v1/ledger/proof", s.handleLedgerProof)
	s.handleFunc("GET /v1/ledger/consistency", s.handleLedgerConsistency)
	s.handleFunc("GET /v1/ledger/checkpoints", s.handleLedgerCheckpoints)
	s.handleFunc("GET /v1/ledger/verify", s.handleLedgerVerify)
	s.handleFunc("GET /v1/ledger/export", s.handleLedgerExport)
	s.handleFunc("GET /v1/delegations/{hash}", s.handleDelegation)
	s.handleFunc("GET /v1/capabilities", s.handleCapabilities)
	s.handleFunc("GET /v1/graph/snapshot", s.handleGraphSnapshot)
	s.handleFunc("POST /v1/graph/query", s.handleGraphQuery)
	s.handleFunc("GET /v1/policy", s.handlePolicy)
	s.handleFunc("GET /v1/principals", s.handlePrincipals)
	s.handleFunc("POST /v1/certificates/verify", s.handleVerify)
	s.handleFunc("GET /metrics", s.handleMetrics)
	s.handleFunc("GET /healthz", s.handleHealth)
	s.handleFunc("GET /readyz", s.handleReady)
	s.handleFunc("GET /v1/openapi.json", httpx.ServeOpenAPI)
}

// errBadToken is a membership or node-to-node call without the cluster
// token.
var errBadToken = cnverr.New(cnverr.Unauthenticated, "missing or wrong cluster token (X-Cnv-Token)")

// guarded requires the cluster token, when one is configured.
func (s *Server) guarded(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte(s.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(wire.HeaderToken)), want) != 1 {
			httpx.Error(w, r, errBadToken)
			return
		}
		h(w, r)
	}
}

// ServeHTTP serves the API; every answer names the node.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(wire.HeaderNode, s.node.ID())
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("handler panic", "path", r.URL.Path, "panic", p)
			httpx.Error(w, r, errInternal)
		}
	}()
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	route := httpx.Serve(s.mux, rw, r)
	s.metrics.observe(route, rw.code(), time.Since(start))
}

// Serve serves the API on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "ok", "node_id": s.node.ID()})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.node.Ready(); err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]any{"status": "ready", "node_id": s.node.ID(), "applied_index": s.node.AppliedIndex()})
}
