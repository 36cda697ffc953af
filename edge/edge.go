// Package edge is an edge node's HTTP API: it runs gossip only (no Raft,
// no ledger), answers graph reads from the gossiped snapshot, verifies
// certificates with the node keys it learned from servers, and relays
// writes to a server.
package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// Config configures an edge node: gossip only, no Raft, no ledger.
type Config struct {
	NodeID string
	Gossip *gossip.Gossip
	// Peers reaches servers (forwarded writes, node keys).
	Peers  *peer.Client
	Clock  clock.Clock
	Logger hclog.Logger
}

// Server is an edge node's HTTP API: graph reads from the gossiped
// snapshot, certificate verification with the node keys it learned from
// servers, and writes forwarded to a server.
type Server struct {
	cfg  Config
	log  hclog.Logger
	http *http.Server
	mux  *http.ServeMux
	keys atomic.Pointer[[]wire.NodeKey]
	fwd  *forward.Forwarder
	stop chan struct{}
	// patterns are the registered routes, in order.
	patterns []string
}

// NewServer returns an edge API and starts learning node keys.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	e := &Server{cfg: cfg, log: cfg.Logger.Named("edge"), mux: http.NewServeMux(), stop: make(chan struct{})}
	e.fwd = forward.New(forward.Config{Peers: cfg.Peers, Targets: e.servers, Logger: cfg.Logger})
	e.handleFunc("POST /v1/invoke", e.handleInvoke)
	e.handleFunc("POST /v1/graph/query", e.handleGraphQuery)
	e.handleFunc("GET /v1/graph/snapshot", e.handleGraphSnapshot)
	e.handleFunc("GET /v1/capabilities", e.handleCapabilities)
	e.handleFunc("GET /v1/cluster/members", e.handleMembers)
	e.handleFunc("GET /v1/cluster/keys", e.handleKeys)
	e.handleFunc("GET /v1/cluster/status", e.handleStatus)
	e.handleFunc("POST /v1/certificates/verify", e.handleVerify)
	e.handleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.Write(w, r, http.StatusOK, map[string]string{"status": "ok", "node_id": cfg.NodeID, "role": "edge"})
	})
	e.handleFunc("GET /readyz", e.handleReady)
	e.handleFunc("GET /v1/openapi.json", httpx.ServeOpenAPI)
	e.http = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go e.learnKeys()
	return e
}

// handleFunc registers a route and remembers its pattern (Routes).
func (e *Server) handleFunc(pattern string, h http.HandlerFunc) {
	e.mux.HandleFunc(pattern, h)
	e.patterns = append(e.patterns, pattern)
}

// Routes lists the patterns the edge API registers ("GET /healthz").
func (e *Server) Routes() []string { return append([]string(nil), e.patterns...) }

// ServeHTTP serves the edge API.
func (e *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(wire.HeaderNode, e.cfg.NodeID)
	httpx.Serve(e.mux, w, r)
}

// Serve serves on ln until Shutdown.
func (e *Server) Serve(ln net.Listener) error {
	if err := e.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the API and the key learner.
func (e *Server) Shutdown(ctx context.Context) error {
	close(e.stop)
	return e.http.Shutdown(ctx)
}

// servers returns the API addresses of alive server members.
func (e *Server) servers() []string {
	var out []string
	for _, m := range e.cfg.Gossip.Members() {
		if m.Role == gossip.RoleServer && m.State == gossip.StateAlive && m.APIAddr != "" {
			out = append(out, m.APIAddr)
		}
	}
	return out
}

// learnKeys refreshes the node keys from a server every few seconds.
func (e *Server) learnKeys() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for _, a := range e.servers() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ks, err := e.cfg.Peers.API().Keys(ctx, a)
			cancel()
			if err == nil {
				e.keys.Store(&ks)
				break
			}
		}
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
	}
}

func (e *Server) trust() (certificate.Trust, error) {
	ks := e.keys.Load()
	if ks == nil {
		return nil, cnverr.New(cnverr.Unavailable, "no node keys learned yet")
	}
	tr := certificate.Trust{}
	for _, k := range *ks {
		pub, err := principal.ParsePublicPEM([]byte(k.PublicKeyPEM))
		if err != nil {
			continue
		}
		tr[principal.IDOf(pub)] = pub
	}
	return tr, nil
}

func (e *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if _, idx, _ := e.cfg.Gossip.Graph(); idx == 0 {
		httpx.Error(w, r, cnverr.New(cnverr.Unavailable, "no graph snapshot yet"))
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]any{"status": "ready", "node_id": e.cfg.NodeID, "role": "edge"})
}

// handleInvoke forwards a write to an alive server (which forwards it to
// the leader).
func (e *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	body, err := httpx.ReadBody(w, r, httpx.RequestLimit)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	hdr := http.Header{"Content-Type": {r.Header.Get("Content-Type")}}
	if a := r.Header.Get("Accept"); a != "" {
		hdr.Set("Accept", a)
	}
	raw, err := e.fwd.Relay(r.Context(), "/v1/invoke", body, hdr)
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		httpx.Error(w, r, ae.Err)
	case err != nil:
		httpx.Error(w, r, err)
	default:
		w.Header().Set("Content-Type", raw.ContentType)
		w.WriteHeader(http.StatusOK)
		w.Write(raw.Body)
	}
}

// snapshot returns the local snapshot, waiting (bounded) for min_index.
func (e *Server) snapshot(w http.ResponseWriter, r *http.Request) (*graph.Snapshot, uint64, string, bool) {
	minIndex, err := httpx.QueryUint(r, "min_index", 0)
	if err != nil {
		httpx.Error(w, r, err)
		return nil, 0, "", false
	}
	ctx, cancel := context.WithTimeout(r.Context(), limits.MaxReadWait)
	defer cancel()
	g, idx, hash, err := e.cfg.Gossip.WaitGraph(ctx, max(minIndex, 1))
	if err != nil {
		httpx.Error(w, r, cnverr.Wrap(cnverr.DeadlineExceeded, err, "graph snapshot at index %d not here", minIndex))
		return nil, 0, "", false
	}
	w.Header().Set(wire.HeaderIndex, strconv.FormatUint(idx, 10))
	return g, idx, hash, true
}

func (e *Server) handleGraphQuery(w http.ResponseWriter, r *http.Request) {
	var req graph.Request
	if err := httpx.Decode(w, r, 1<<20, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	g, idx, hash, ok := e.snapshot(w, r)
	if !ok {
		return
	}
	res, err := graph.Execute(g, req)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, httpx.GraphAnswer{Index: idx, Hash: hash, Result: res})
}

func (e *Server) handleGraphSnapshot(w http.ResponseWriter, r *http.Request) {
	g, idx, hash, ok := e.snapshot(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Cnv-Graph-Hash", hash)
	w.Header().Set("X-Cnv-Graph-Index", strconv.FormatUint(idx, 10))
	w.Write(g.Encode())
}

func (e *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	g, idx, hash, ok := e.snapshot(w, r)
	if !ok {
		return
	}
	out := make([]graph.Node, 0, g.Len())
	for i := 0; i < g.Len(); i++ {
		out = append(out, g.Node(graph.Index(i)))
	}
	httpx.Write(w, r, http.StatusOK, map[string]any{"index": idx, "hash": hash, "capabilities": out})
}

func (e *Server) handleMembers(w http.ResponseWriter, r *http.Request) {
	var out []wire.Member
	for _, m := range e.cfg.Gossip.Members() {
		out = append(out, wire.Member{NodeID: m.NodeID, RaftAddr: m.RaftAddr, APIAddr: m.APIAddr, Raft: "unknown",
			Role: string(m.Role), Gossip: string(m.State), GossipAddr: m.GossipAddr, Applied: m.Applied})
	}
	httpx.Write(w, r, http.StatusOK, out)
}

func (e *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	ks := e.keys.Load()
	if ks == nil {
		httpx.Error(w, r, cnverr.New(cnverr.Unavailable, "no node keys learned yet"))
		return
	}
	httpx.Write(w, r, http.StatusOK, *ks)
}

func (e *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	_, idx, hash := e.cfg.Gossip.Graph()
	httpx.Write(w, r, http.StatusOK, map[string]any{"node_id": e.cfg.NodeID, "role": "edge", "state": "Edge",
		"graph_index": idx, "graph_hash": hash, "gossip_addr": e.cfg.Gossip.Addr()})
}

// handleVerify verifies a certificate (the JSON invoke returns) with the
// node keys this node knows.
func (e *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	tr, err := e.trust()
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.VerifyCertificate(w, r, tr, e.cfg.Clock.Now().UnixNano())
}
