package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/wire"
)

// The internal listener serves what one member asks another (package peer
// calls it): relayed and prepared invocations, joins, removals and moves
// on the leader, node
// records, read indexes and node proposals. It runs on the node's Raft
// port (package mux), which has authenticated the caller as a member
// (its node certificate, or the cluster token) before a byte reaches
// here; nothing on it is forwarded again.
func (s *Server) internalHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/invoke", s.handleInvoke)
	m.HandleFunc("POST /v1/cluster/join", s.handleJoin)
	m.HandleFunc("POST /v1/cluster/remove", s.handleRemove)
	m.HandleFunc("POST /v1/cluster/move-member", s.handleMove)
	m.HandleFunc("POST /v1/cluster/transfer-leader", s.handleTransferLeader)
	m.HandleFunc("POST /v1/internal/register", s.handleRegister)
	m.HandleFunc("GET /v1/internal/read-index", s.handleReadIndex)
	m.HandleFunc("POST /v1/internal/propose", s.handlePropose)
	m.HandleFunc("POST /v1/internal/invoke-prepared", s.handleInvokePrepared)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.HeaderNode, s.node.ID())
		httpx.Serve(m, w, r.WithContext(context.WithValue(r.Context(), internalKey{}, true)))
	})
}

type internalKey struct{}

// isInternal reports whether r came over the internal listener: a member's
// relayed request, served here and never forwarded again.
func isInternal(r *http.Request) bool { return r.Context().Value(internalKey{}) != nil }

// ServeInternal serves node-to-node calls on ln (the node's mux listener
// for them) until Shutdown.
func (s *Server) ServeInternal(ln net.Listener) error {
	err := s.internal.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
