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
		s.forwardInvoke(w, r, body)
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

func toWire(o *cluster.Outcome) wire.Outcome {
	if o.Err != nil || o.Answer == nil {
		return wire.Outcome{RequestID: o.RequestID, Error: o.Err}
	}
	return *o.Answer
}
