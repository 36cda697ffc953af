package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/tlsutil"
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
	// changes (join, leave, remove) and snapshots when the API is not TLS.
	Token string
	// TLS reports that the API is served over TLS with the cluster's CA
	// checking client certificates: membership changes then need one, and
	// a joining server its own node certificate.
	TLS    bool
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
	// internal serves node-to-node calls (internal.go).
	internal *http.Server
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
	s.http = s.newHTTPServer(s)
	s.internal = s.newHTTPServer(s.internalHandler())
	return s
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
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
	s.handleFunc("POST /v1/cluster/move-member", s.guarded(s.handleMove))
	s.handleFunc("POST /v1/cluster/transfer-leader", s.guarded(s.handleTransferLeader))
	s.handleFunc("GET /v1/snapshot", s.guarded(s.handleSnapshot))
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

// errBadToken is a membership change without the cluster token.
var errBadToken = cnverr.New(cnverr.Unauthenticated, "missing or wrong cluster token (X-Cnv-Token)")

// errNoClientCert is a membership change over TLS without a certificate of
// the cluster's CA.
var errNoClientCert = cnverr.New(cnverr.Unauthenticated, "membership changes and snapshots need a client or node certificate of the cluster's CA")

// guarded admits membership changes and snapshots (which carry the whole
// state): over TLS, the caller presented a
// certificate of the cluster's CA (the TLS config verified it); else,
// when a cluster token is configured, the request carries it. Without TLS
// and without a token anyone who reaches the API may change membership
// (loopback development only).
func (s *Server) guarded(h http.HandlerFunc) http.HandlerFunc {
	want := []byte(s.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.cfg.TLS:
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				httpx.Error(w, r, errNoClientCert)
				return
			}
		case len(want) > 0:
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(wire.HeaderToken)), want) != 1 {
				httpx.Error(w, r, errBadToken)
				return
			}
		}
		h(w, r)
	}
}

// joiner checks that a server asking to join proves it is that server:
// over TLS, its certificate must be the node certificate of the node id
// it asks to add. (An operator's client certificate may tell a node to
// join, but the node joins with its own.)
func (s *Server) joiner(r *http.Request, nodeID string) error {
	if !s.cfg.TLS {
		return nil
	}
	id, err := tlsutil.PeerIdentity(*r.TLS)
	if err != nil || id.Kind != tlsutil.KindNode || id.Name != nodeID {
		return cnverr.New(cnverr.PermissionDenied, "a server joins with its own node certificate: this one names %v, the join asks for node %q", id, nodeID)
	}
	return nil
}

// origin says who sent a membership change, for the ledger: on the public
// API, how the caller authenticated and from where; on the internal
// listener, what the relaying member says (it computed that from its own
// caller), else "member".
func (s *Server) origin(r *http.Request, what, by, cause string) cluster.Origin {
	if isInternal(r) {
		if by == "" || cause == "" {
			return cluster.Origin{By: "member", Cause: what + " relayed by a member"}
		}
		return cluster.Origin{By: by, Cause: cause}
	}
	by, who := "unauthenticated", "an unauthenticated caller (no cluster token or TLS)"
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		if id, err := tlsutil.PeerIdentity(*r.TLS); err == nil {
			by, who = string(id.Kind)+":"+id.Name, string(id.Kind)+" certificate "+id.Name
		}
	case s.cfg.Token != "":
		by, who = "token", "a cluster-token holder"
	}
	return cluster.Origin{By: by, Cause: fmt.Sprintf("%s from %s by %s", what, r.RemoteAddr, who)}
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

// Shutdown stops accepting requests, public and internal, and waits for
// those in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.http.Shutdown(ctx), s.internal.Shutdown(ctx))
}

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
