package transport

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

var errInternal = cnverr.New(cnverr.InternalError, "internal error")

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	write(w, r, http.StatusOK, s.node.Status())
}

func (s *Server) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.node.Members()
	respond(w, r, ms, err)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	nodes := s.node.FSM().View().NodeList()
	out := make([]wire.NodeKey, 0, len(nodes))
	for _, n := range nodes {
		pem, err := principal.MarshalPublicPEM(n.PublicKey)
		if err != nil {
			writeErr(w, r, err)
			return
		}
		out = append(out, wire.NodeKey{NodeID: n.ID, KeyID: string(n.KeyID), PublicKeyPEM: string(pem)})
	}
	write(w, r, http.StatusOK, out)
}

// handleJoin serves two callers: a joining server sending its own record
// (node_id, raft_addr), and the CLI telling this node which members to
// join (members).
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.JoinRequest
	if err := decode(w, r, 64<<10, &req); err != nil {
		writeErr(w, r, err)
		return
	}
	var err error
	if len(req.Members) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
		defer cancel()
		err = s.node.Join(ctx, req.Members)
	} else {
		err = s.node.HandleJoin(r.Context(), cluster.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr,
			APIAddr: req.APIAddr, Nonvoter: req.Nonvoter, Forwarded: req.Forwarded || r.Header.Get(wire.HeaderForwarded) != ""})
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	write(w, r, http.StatusOK, map[string]string{"status": "joined"})
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req wire.RemoveRequest
	if err := decode(w, r, 64<<10, &req); err != nil {
		writeErr(w, r, err)
		return
	}
	err := s.node.HandleRemove(r.Context(), cluster.RemoveRequest{NodeID: req.NodeID, Reason: req.Reason,
		Forwarded: req.Forwarded || r.Header.Get(wire.HeaderForwarded) != ""})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	write(w, r, http.StatusOK, map[string]string{"status": "removed", "node_id": req.NodeID})
}

func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) {
	if err := s.node.Leave(r.Context()); err != nil {
		writeErr(w, r, err)
		return
	}
	write(w, r, http.StatusOK, map[string]string{"status": "left", "node_id": s.node.ID()})
	if s.cfg.OnLeave != nil {
		go s.cfg.OnLeave()
	}
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var sn cluster.SignedNode
	if err := decode(w, r, 64<<10, &sn); err != nil {
		writeErr(w, r, err)
		return
	}
	if err := s.node.RegisterNode(r.Context(), sn); err != nil {
		writeErr(w, r, err)
		return
	}
	write(w, r, http.StatusOK, map[string]string{"status": "registered"})
}

func (s *Server) handlePropose(w http.ResponseWriter, r *http.Request) {
	var sp cluster.SignedProposal
	if err := decode(w, r, requestLimit, &sp); err != nil {
		writeErr(w, r, err)
		return
	}
	res, err := s.node.HandleProposal(r.Context(), sp)
	respond(w, r, res, err)
}

func (s *Server) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := s.node.ReadIndex(r.Context())
	if err != nil {
		writeErr(w, r, err)
		return
	}
	write(w, r, http.StatusOK, wire.ReadIndexResponse{Index: idx})
}

// notLeader reports whether err is the node's not-leader refusal.
func notLeader(err error) bool { return errors.Is(err, cluster.ErrNotLeader) }

// handleVerify verifies a certificate with the node keys in the
// replicated state.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	tr := certificate.Trust{}
	for _, n := range s.node.FSM().View().NodeList() {
		tr[n.KeyID] = n.PublicKey
	}
	verifyCertificate(w, r, tr, s.node.Now().UnixNano())
}
