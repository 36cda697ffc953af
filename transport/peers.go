package transport

import (
	"context"
	"errors"
	"net/http"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// Peers implements cluster.PeerClient over the HTTP API.
type Peers struct {
	c *client.Client
}

var _ cluster.PeerClient = (*Peers)(nil)

// NewPeers returns a node-to-node client; opts.Dial may rewrite addresses.
func NewPeers(opts client.Options) *Peers { return &Peers{c: client.New(opts)} }

// Client is the underlying API client (used to forward writes).
func (p *Peers) Client() *client.Client { return p.c }

func forwarded() http.Header { return http.Header{wire.HeaderForwarded: []string{"1"}} }

// Join implements cluster.PeerClient.
func (p *Peers) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	body := wire.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, Nonvoter: req.Nonvoter, Forwarded: req.Forwarded}
	return peerErr(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", body, nil, nil))
}

// RegisterNode implements cluster.PeerClient.
func (p *Peers) RegisterNode(ctx context.Context, addr string, rec cluster.SignedNode) error {
	return peerErr(p.c.Do(ctx, http.MethodPost, addr, "/v1/internal/register", rec, nil, forwarded()))
}

// ReadIndex implements cluster.PeerClient.
func (p *Peers) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	var r wire.ReadIndexResponse
	err := p.c.Do(ctx, http.MethodGet, addr, "/v1/internal/read-index", nil, &r, forwarded())
	return r.Index, peerErr(err)
}

// Remove implements cluster.PeerClient.
func (p *Peers) Remove(ctx context.Context, addr string, req cluster.RemoveRequest) error {
	body := wire.RemoveRequest{NodeID: req.NodeID, Reason: req.Reason, Forwarded: req.Forwarded}
	return peerErr(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/remove", body, nil, nil))
}

// Propose implements cluster.PeerClient.
func (p *Peers) Propose(ctx context.Context, addr string, sp cluster.SignedProposal) ([]fsm.Result, error) {
	var res []fsm.Result
	err := p.c.Do(ctx, http.MethodPost, addr, "/v1/internal/propose", sp, &res, forwarded())
	return res, peerErr(err)
}

// peerErr turns a peer's API error back into a structured error (a
// not-leader answer into cluster.ErrNotLeader) and a transport failure
// into Unavailable.
func peerErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		if ae.NotLeader() {
			return cluster.ErrNotLeader
		}
		return ae.Err
	}
	return cnverr.Wrap(cnverr.Unavailable, err, "peer unreachable")
}
