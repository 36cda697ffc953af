package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

var errInternal = cnverr.New(cnverr.InternalError, "internal error")

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	httpx.Write(w, r, http.StatusOK, s.node.Status())
}

func (s *Server) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.node.Members()
	httpx.Respond(w, r, ms, err)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	nodes := s.state.View().NodeList()
	out := make([]wire.NodeKey, 0, len(nodes))
	for _, n := range nodes {
		pem, err := principal.MarshalPublicPEM(n.PublicKey)
		if err != nil {
			httpx.Error(w, r, err)
			return
		}
		out = append(out, wire.NodeKey{NodeID: n.ID, KeyID: string(n.KeyID), PublicKeyPEM: string(pem)})
	}
	httpx.Write(w, r, http.StatusOK, out)
}

// handleJoin serves two callers: a joining server sending its own record
// (node_id, raft_addr), and the CLI telling this node which members to
// join (members).
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.JoinRequest
	if err := httpx.Decode(w, r, 64<<10, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	var err error
	if len(req.Members) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
		defer cancel()
		err = s.node.Join(ctx, req.Members)
	} else if err = s.joinerUnlessInternal(r, req.NodeID); err == nil {
		jr := cluster.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, Nonvoter: req.Nonvoter,
			PublicKey: req.PublicKey, Readmit: req.Readmit, Signature: req.Signature,
			Origin: s.origin(r, "join request", req.By, req.Cause)}
		err = s.leaderOnly(r, "join", func() error { return s.node.AddServer(r.Context(), jr) },
			func(ctx context.Context, leader string) error {
				return s.cfg.Forward.Peers().JoinLeader(ctx, leader, jr)
			})
	}
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "joined"})
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req wire.RemoveRequest
	if err := httpx.Decode(w, r, 64<<10, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	rr := cluster.RemoveRequest{NodeID: req.NodeID, Reason: req.Reason, Origin: s.origin(r, "cluster remove", req.By, req.Cause)}
	err := s.leaderOnly(r, "remove", func() error { return s.node.RemoveServer(r.Context(), rr) },
		func(ctx context.Context, leader string) error { return s.cfg.Forward.Peers().Remove(ctx, leader, rr) })
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "removed", "node_id": req.NodeID})
}

// handleMove moves a member to a new Raft (and API) address, on the
// leader (forwarded there from a follower).
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	var req wire.MoveMemberRequest
	if err := httpx.Decode(w, r, 64<<10, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	mr := cluster.MoveRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr,
		Origin: s.origin(r, "cluster move-member", req.By, req.Cause)}
	err := s.leaderOnly(r, "move_member", func() error { return s.node.MoveServer(r.Context(), mr) },
		func(ctx context.Context, leader string) error { return s.cfg.Forward.Peers().Move(ctx, leader, mr) })
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "moved", "node_id": req.NodeID})
}

// joinerUnlessInternal checks a joining server's proof, except on the
// internal listener (a member relays a join it already checked).
func (s *Server) joinerUnlessInternal(r *http.Request, nodeID string) error {
	if isInternal(r) {
		return nil
	}
	return s.joiner(r, nodeID)
}

// handleTransferLeader hands leadership over, on the leader (forwarded
// there from a follower), and names the new leader.
func (s *Server) handleTransferLeader(w http.ResponseWriter, r *http.Request) {
	var req wire.TransferLeaderRequest
	if err := httpx.Decode(w, r, 64<<10, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	local := func() (wire.TransferLeaderResponse, error) {
		id, err := s.node.TransferLeadership(r.Context(), req.To)
		return wire.TransferLeaderResponse{Status: "transferred", From: s.node.ID(), LeaderID: id}, err
	}
	var out wire.TransferLeaderResponse
	var err error
	if isInternal(r) {
		out, err = local()
	} else {
		out, err = forward.Do(r.Context(), s.cfg.Forward, "transfer_leader", local,
			func(ctx context.Context, leader string) (wire.TransferLeaderResponse, error) {
				return s.cfg.Forward.Peers().TransferLeader(ctx, leader, req.To)
			})
	}
	httpx.Respond(w, r, out, err)
}

// leaderOnly runs a leader-only change here, or through the forwarder on
// the leader; a request another member relayed (internal) is served here.
func (s *Server) leaderOnly(r *http.Request, op string, local func() error, remote func(ctx context.Context, leader string) error) error {
	if isInternal(r) {
		return local()
	}
	_, err := forward.Do(r.Context(), s.cfg.Forward, op,
		func() (struct{}, error) { return struct{}{}, local() },
		func(ctx context.Context, leader string) (struct{}, error) { return struct{}{}, remote(ctx, leader) })
	return err
}

func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) {
	if err := s.node.Leave(r.Context(), s.origin(r, "cluster leave of "+s.node.ID(), "", "")); err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "left", "node_id": s.node.ID()})
	if s.cfg.OnLeave != nil {
		go s.cfg.OnLeave()
	}
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var sn cluster.SignedNode
	if err := httpx.Decode(w, r, 64<<10, &sn); err != nil {
		httpx.Error(w, r, err)
		return
	}
	if err := s.node.RegisterNode(r.Context(), sn); err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, map[string]string{"status": "registered"})
}

func (s *Server) handlePropose(w http.ResponseWriter, r *http.Request) {
	var sp cluster.SignedProposal
	if err := httpx.Decode(w, r, httpx.RequestLimit, &sp); err != nil {
		httpx.Error(w, r, err)
		return
	}
	res, err := s.node.HandleProposal(r.Context(), sp)
	httpx.Respond(w, r, res, err)
}

func (s *Server) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := s.node.ReadIndex(r.Context())
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, wire.ReadIndexResponse{Index: idx})
}

// notLeader reports whether err is the node's not-leader refusal.
func notLeader(err error) bool { return errors.Is(err, cluster.ErrNotLeader) }

// handleVerify verifies a certificate with the node keys in the
// replicated state.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	tr := certificate.Trust{}
	for _, n := range s.state.View().NodeList() {
		tr[n.KeyID] = n.PublicKey
	}
	httpx.VerifyCertificate(w, r, tr, s.node.Now().UnixNano())
}
