package httpapi

import (
	"net/http"
	"strconv"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/wire"
)

// read makes the local state fit for a read at the requested consistency
// (def when the request names none) and returns the index it reflects,
// also set as the X-Cnv-Index header. On error it has answered.
func (s *Server) read(w http.ResponseWriter, r *http.Request, def cluster.Consistency) (uint64, bool) {
	c, err := cluster.ParseConsistency(r.URL.Query().Get("consistency"), def)
	if err != nil {
		httpx.Error(w, r, err)
		return 0, false
	}
	minIndex, err := httpx.QueryUint(r, "min_index", 0)
	if err != nil {
		httpx.Error(w, r, err)
		return 0, false
	}
	idx, err := s.node.Read(r.Context(), c, minIndex)
	if err != nil {
		httpx.Error(w, r, err)
		return 0, false
	}
	w.Header().Set(wire.HeaderIndex, strconv.FormatUint(idx, 10))
	return idx, true
}

func (s *Server) handleLedgerStatus(w http.ResponseWriter, r *http.Request) {
	idx, ok := s.read(w, r, cluster.Linearizable)
	if !ok {
		return
	}
	h := s.ledger.Head()
	httpx.Write(w, r, http.StatusOK, wire.LedgerStatus{Size: h.Size, Root: h.Root.String(), Index: idx, PolicyHash: h.PolicyHash, LastTime: h.LastTime})
}

// eventPage is wire.EventPage with the ledger's own event type (its JSON
// form is the wire form).
type eventPage struct {
	Events []event.Event `json:"events"`
	More   bool          `json:"more"`
	Next   uint64        `json:"next,omitempty"`
	Index  uint64        `json:"index"`
}

func (s *Server) handleLedgerEvents(w http.ResponseWriter, r *http.Request) {
	s.runQuery(w, r, func(q *ledger.Query) error { return nil })
}

func (s *Server) handleLedgerQuery(w http.ResponseWriter, r *http.Request) {
	s.runQuery(w, r, func(q *ledger.Query) error { return parseFilters(r, q) })
}

func (s *Server) runQuery(w http.ResponseWriter, r *http.Request, filters func(*ledger.Query) error) {
	var q ledger.Query
	start, err := httpx.QueryUint(r, "start", 0)
	if err == nil {
		var lim int64
		lim, err = httpx.QueryInt(r, "limit", 0)
		q.Start, q.Limit = start, int(lim)
		if lim < 0 || lim > limits.MaxQueryLimit {
			err = cnverr.New(cnverr.InvalidInput, "limit must be between 0 and %d", limits.MaxQueryLimit)
		}
	}
	if err == nil {
		err = filters(&q)
	}
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	idx, ok := s.read(w, r, cluster.Linearizable)
	if !ok {
		return
	}
	p, err := s.ledger.Query(q)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, eventPage{Events: p.Events, More: p.More, Next: p.Next, Index: idx})
}

func parseFilters(r *http.Request, q *ledger.Query) error {
	v := r.URL.Query()
	q.Actor, q.Tenant, q.Correlation = v.Get("actor"), v.Get("tenant"), v.Get("correlation_id")
	q.Type, q.Decision = event.Type(v.Get("type")), policy.Decision(v.Get("decision"))
	if c := v.Get("capability"); c != "" {
		p, err := capability.ParsePath(c)
		if err != nil {
			return err
		}
		q.Capability = p
	}
	var err error
	if q.Since, err = httpx.QueryInt(r, "since", 0); err != nil {
		return err
	}
	q.Until, err = httpx.QueryInt(r, "until", 0)
	return err
}

func (s *Server) handleLedgerEvent(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		httpx.Error(w, r, cnverr.New(cnverr.InvalidInput, "event index %q is not a number", r.PathValue("index")))
		return
	}
	if _, ok := s.read(w, r, cluster.Linearizable); !ok {
		return
	}
	ev, err := s.ledger.Event(i)
	httpx.Respond(w, r, ev, err)
}

// span parses a range's start parameter, makes the state fit for a
// linearizable read (or what the request asks), then parses its end
// parameter, which defaults to the ledger size at that read. A range that
// ends before it starts or beyond the ledger is a 400. On error it has
// answered.
func (s *Server) span(w http.ResponseWriter, r *http.Request, startName, endName string) (start, end uint64, ok bool) {
	start, err := httpx.QueryUint(r, startName, 0)
	if err != nil {
		httpx.Error(w, r, err)
		return 0, 0, false
	}
	if _, ok := s.read(w, r, cluster.Linearizable); !ok {
		return 0, 0, false
	}
	size := s.ledger.Head().Size
	end, err = httpx.QueryUint(r, endName, size)
	switch {
	case err != nil:
	case start > end:
		err = cnverr.New(cnverr.InvalidInput, "%s=%d is after %s=%d", startName, start, endName, end)
	case end > size:
		err = cnverr.New(cnverr.InvalidInput, "%s=%d is beyond the ledger's %d events", endName, end, size)
	}
	if err != nil {
		httpx.Error(w, r, err)
		return 0, 0, false
	}
	return start, end, true
}

func (s *Server) handleLedgerProof(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("index") {
		httpx.Error(w, r, cnverr.New(cnverr.InvalidInput, "proof needs index=N"))
		return
	}
	if index, size, ok := s.span(w, r, "index", "size"); ok {
		p, err := s.ledger.InclusionProof(index, size)
		httpx.Respond(w, r, p, err)
	}
}

func (s *Server) handleLedgerConsistency(w http.ResponseWriter, r *http.Request) {
	if from, to, ok := s.span(w, r, "from", "to"); ok {
		p, err := s.ledger.ConsistencyProof(from, to)
		httpx.Respond(w, r, p, err)
	}
}

func (s *Server) handleLedgerCheckpoints(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.read(w, r, cluster.Linearizable); !ok {
		return
	}
	cps, err := s.ledger.Checkpoints()
	httpx.Respond(w, r, cps, err)
}

func (s *Server) handleLedgerVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := s.ledger.Verify(ledger.VerifyOptions{Structure: r.URL.Query().Get("structure") == "true"})
	httpx.Respond(w, r, rep, err)
}

func (s *Server) handleLedgerExport(w http.ResponseWriter, r *http.Request) {
	from, to, ok := s.span(w, r, "from", "to")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := s.ledger.Export(w, from, to); err != nil {
		s.log.Warn("ledger export stopped", "error", err)
	}
}

func (s *Server) handleDelegation(w http.ResponseWriter, r *http.Request) {
	h, err := delegation.ParseHash(r.PathValue("hash"))
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	idx, ok := s.read(w, r, cluster.Linearizable)
	if !ok {
		return
	}
	st, found, err := s.state.LinkStateOf(h)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	if !found {
		httpx.Error(w, r, cnverr.New(cnverr.NotFound, "delegation link %s has no recorded use or revocation", h))
		return
	}
	httpx.Write(w, r, http.StatusOK, wire.LinkState{Hash: st.Hash.String(), Issuer: string(st.Issuer), Audience: string(st.Audience),
		MaxUses: st.MaxUses, NotAfter: st.NotAfter, Uses: st.Uses, FirstUsed: st.FirstUsed, Revoked: st.Revoked,
		RevokedAt: st.RevokedAt, RevokedBy: string(st.RevokedBy), Reason: st.Reason, Index: idx})
}

func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.read(w, r, cluster.Stale); !ok {
		return
	}
	g := s.state.View().Graph
	out := make([]graph.Node, 0, g.Len())
	for i := 0; i < g.Len(); i++ {
		out = append(out, g.Node(graph.Index(i)))
	}
	httpx.Write(w, r, http.StatusOK, map[string]any{"index": g.RaftIndex(), "hash": g.Hash(), "capabilities": out})
}

func (s *Server) handleGraphSnapshot(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.read(w, r, cluster.Stale); !ok {
		return
	}
	g := s.state.View().Graph
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Cnv-Graph-Hash", g.Hash())
	w.Header().Set("X-Cnv-Graph-Index", strconv.FormatUint(g.RaftIndex(), 10))
	w.Write(g.Encode())
}

func (s *Server) handleGraphQuery(w http.ResponseWriter, r *http.Request) {
	var req graph.Request
	if err := httpx.Decode(w, r, 1<<20, &req); err != nil {
		httpx.Error(w, r, err)
		return
	}
	if _, ok := s.read(w, r, cluster.Stale); !ok {
		return
	}
	g := s.state.View().Graph
	res, err := graph.Execute(g, req)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.Write(w, r, http.StatusOK, httpx.GraphAnswer{Index: g.RaftIndex(), Hash: g.Hash(), Result: res})
}

func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.read(w, r, cluster.Linearizable); !ok {
		return
	}
	p := s.state.View().Policy
	httpx.Write(w, r, http.StatusOK, map[string]any{"hash": p.Hash(), "policy": p.Document()})
}

func (s *Server) handlePrincipals(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.read(w, r, cluster.Linearizable); !ok {
		return
	}
	httpx.Write(w, r, http.StatusOK, s.state.View().PrincipalList())
}
