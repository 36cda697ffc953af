package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// handleInvoke commits a signed batch on the leader, forwarding it there
// (once) from a follower. A batch of one invocation that is rejected
// answers with the rejection's status; a larger batch answers 200 with
// per-invocation errors.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	body, err := httpx.ReadBody(w, r, httpx.RequestLimit)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	var signed invocation.Signed
	err = httpx.DecodeBytes(body, httpx.IsMsgpack(r), &signed)
	if err == nil {
		err = signed.CheckPresent()
	}
	if err != nil {
		s.metrics.reject(err, 1)
		httpx.Error(w, r, err)
		return
	}
	outs, err := s.node.Invoke(r.Context(), &signed)
	if notLeader(err) && !isInternal(r) {
		if p, perr := s.node.Prepare(&signed); perr == nil && s.cfg.Forward != nil {
			s.forwardPrepared(w, r, p)
			return
		}
		s.forwardInvoke(w, r, body) // the leader judges what this node could not
		return
	}
	if err != nil {
		if cnverr.KindOf(err) != cnverr.Unavailable {
			s.metrics.reject(err, 1)
		}
		httpx.Error(w, r, err)
		return
	}
	for i := range outs {
		if outs[i].Err != nil && outs[i].Result.Decision == "" {
			s.metrics.reject(outs[i].Err, 1)
		}
	}
	if len(outs) == 1 && outs[0].Err != nil {
		httpx.Error(w, r, outs[0].Err)
		return
	}
	resp := wire.InvokeResponse{Node: s.node.ID(), Results: make([]wire.Outcome, len(outs))}
	for i := range outs {
		resp.Results[i] = toWire(&outs[i])
	}
	httpx.Write(w, r, http.StatusOK, resp)
}

// forwardPrepared hands a batch this node authenticated and prepared to
// the leader (with the others waiting now, package forward) and answers
// with the leader's outcomes.
func (s *Server) forwardPrepared(w http.ResponseWriter, r *http.Request, p cluster.Prepared) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	node, outs, err := s.cfg.Forward.InvokePrepared(ctx, p)
	if err == nil && len(outs) != len(p.Commands) {
		err = cnverr.New(cnverr.InternalError, "the leader answered %d outcomes for %d invocations", len(outs), len(p.Commands))
	}
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	if len(outs) == 1 && outs[0].Error != nil {
		httpx.Error(w, r, outs[0].Error)
		return
	}
	httpx.Write(w, r, http.StatusOK, wire.InvokeResponse{Node: node, Results: outs})
}

// handleInvokePrepared serves a member's prepared requests on the leader.
func (s *Server) handleInvokePrepared(w http.ResponseWriter, r *http.Request) {
	var reqs []cluster.Prepared
	if err := httpx.Decode(w, r, httpx.RequestLimit, &reqs); err != nil {
		httpx.Error(w, r, err)
		return
	}
	outs, err := s.node.InvokePrepared(r.Context(), reqs)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	ans := cluster.PreparedAnswer{Node: s.node.ID(), Outcomes: make([][]wire.Outcome, len(outs))}
	for i := range outs {
		ans.Outcomes[i] = make([]wire.Outcome, len(outs[i]))
		for j := range outs[i] {
			ans.Outcomes[i][j] = outs[i][j].Wire()
		}
	}
	httpx.Write(w, r, http.StatusOK, ans)
}

// forwardInvoke relays the request to the leader and its answer back
// (the forwarder retries only while the answer says the target was not the
// leader, so nothing was proposed).
func (s *Server) forwardInvoke(w http.ResponseWriter, r *http.Request, body []byte) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	hdr := http.Header{"Content-Type": {r.Header.Get("Content-Type")}}
	if a := r.Header.Get("Accept"); a != "" {
		hdr.Set("Accept", a)
	}
	raw, err := s.cfg.Forward.Relay(ctx, "/v1/invoke", body, hdr)
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		httpx.Error(w, r, ae.Err)
	case err != nil:
		httpx.Error(w, r, err)
	default:
		w.Header().Set("Content-Type", raw.ContentType)
		w.Header().Set(wire.HeaderNode, raw.Node)
		w.WriteHeader(http.StatusOK)
		w.Write(raw.Body)
	}
}

func toWire(o *cluster.Outcome) wire.Outcome { return o.Wire() }
