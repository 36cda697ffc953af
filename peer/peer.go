package peer

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// Client calls other nodes' APIs.
type Client struct {
	c *client.Client
}

// New returns a node-to-node client; opts.Dial may rewrite addresses and
// opts.Token is the cluster token every call carries.
func New(opts client.Options) *Client { return &Client{c: client.New(opts)} }

// API is the underlying API client.
func (p *Client) API() *client.Client { return p.c }

// Forwarded is the header set of a request one node relays to another; a
// forwarded request is served where it lands, never forwarded again.
func Forwarded() http.Header { return http.Header{wire.HeaderForwarded: []string{"1"}} }

// Join asks the member at addr to add req's server (the member forwards
// the request to its leader).
func (p *Client) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	body := wire.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, Nonvoter: req.Nonvoter}
	return Err(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", body, nil, nil))
}

// JoinLeader asks the leader at addr to add req's server.
func (p *Client) JoinLeader(ctx context.Context, addr string, req cluster.JoinRequest) error {
	body := wire.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, Nonvoter: req.Nonvoter}
	return Err(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", body, nil, Forwarded()))
}

// Remove asks the node at addr (the leader) to remove a server.
func (p *Client) Remove(ctx context.Context, addr string, req cluster.RemoveRequest) error {
	body := wire.RemoveRequest{NodeID: req.NodeID, Reason: req.Reason}
	return Err(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/remove", body, nil, Forwarded()))
}

// TransferLeader asks the leader at addr to hand leadership to to ("" for
// any voter) and returns its answer.
func (p *Client) TransferLeader(ctx context.Context, addr, to string) (wire.TransferLeaderResponse, error) {
	var out wire.TransferLeaderResponse
	err := p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/transfer-leader", wire.TransferLeaderRequest{To: to}, &out, Forwarded())
	return out, Err(err)
}

// RegisterNode sends a signed node record to the leader at addr.
func (p *Client) RegisterNode(ctx context.Context, addr string, rec cluster.SignedNode) error {
	return Err(p.c.Do(ctx, http.MethodPost, addr, "/v1/internal/register", rec, nil, Forwarded()))
}

// ReadIndex asks the leader at addr for a linearizable read index.
func (p *Client) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	var r wire.ReadIndexResponse
	err := p.c.Do(ctx, http.MethodGet, addr, "/v1/internal/read-index", nil, &r, Forwarded())
	return r.Index, Err(err)
}

// Propose sends node-originated commands to the leader at addr.
func (p *Client) Propose(ctx context.Context, addr string, sp cluster.SignedProposal) ([]fsm.Result, error) {
	var res []fsm.Result
	err := p.c.Do(ctx, http.MethodPost, addr, "/v1/internal/propose", sp, &res, Forwarded())
	return res, Err(err)
}

// Relay sends a request body as it came (an invocation batch) to addr and
// returns the answer's bytes. An API error comes back as *client.APIError.
func (p *Client) Relay(ctx context.Context, method, addr, path string, body io.Reader, hdr http.Header) (client.Raw, error) {
	var raw client.Raw
	err := p.c.DoRaw(ctx, method, addr, path, body, &raw, hdr)
	return raw, err
}

// GraphFetcher fetches a member's graph snapshot from its API (gossip's
// Fetch hook); gossip verifies the hash before using it.
func (p *Client) GraphFetcher() gossip.FetchFunc {
	return func(ctx context.Context, m gossip.Member) ([]byte, error) {
		if m.APIAddr == "" {
			return nil, errors.New("member has no API address")
		}
		var raw client.Raw
		if err := p.c.DoRaw(ctx, http.MethodGet, m.APIAddr, "/v1/graph/snapshot?consistency=stale", nil, &raw, nil); err != nil {
			return nil, err
		}
		return raw.Body, nil
	}
}

// Err turns a peer's API error back into a structured error (a
// not-leader answer into cluster.ErrNotLeader) and a transport failure
// into Unavailable.
func Err(err error) error {
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
