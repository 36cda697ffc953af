package peer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// Client calls other nodes: their public APIs (a joining node asking a
// member, an edge node relaying to a server, gossip fetching a graph
// snapshot) and, once WithMembers is set, the leader's node-to-node
// channel on its Raft port (relayed invocations, joins and removals, node
// records, read indexes, node proposals).
type Client struct {
	c *client.Client
	// m reaches members' internal listeners (nil: their public APIs); mp
	// is m speaking msgpack, for the write path's prepared requests.
	m, mp *client.Client
}

// New returns a client for public APIs; opts.Dial may rewrite addresses
// and opts.Token is the cluster token every call carries.
func New(opts client.Options) *Client {
	c := client.New(opts)
	opts.Msgpack = true
	return &Client{c: c, m: c, mp: client.New(opts)}
}

// WithMembers returns a client whose calls to members go over dial: the
// authenticated node-to-node channel of the member at a Raft address.
func (p *Client) WithMembers(dial func(ctx context.Context, addr string) (net.Conn, error), timeout time.Duration) *Client {
	opts := client.Options{Timeout: timeout, Dial: func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dial(ctx, addr)
	}}
	m := client.New(opts)
	opts.Msgpack = true
	return &Client{c: p.c, m: m, mp: client.New(opts)}
}

// API is the underlying API client.
func (p *Client) API() *client.Client { return p.c }

// joinBody is the wire form of a signed join.
func joinBody(req cluster.JoinRequest) wire.JoinRequest {
	return wire.JoinRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, Nonvoter: req.Nonvoter,
		PublicKey: req.PublicKey, Readmit: req.Readmit, Signature: req.Signature, By: req.Origin.By, Cause: req.Origin.Cause}
}

// Join asks the member at addr (its public API, which says who asked) to
// add req's server; the member forwards the request to its leader.
func (p *Client) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	req.Origin = cluster.Origin{}
	return Err(p.c.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", joinBody(req), nil, nil))
}

// JoinLeader asks the leader at addr to add req's server.
func (p *Client) JoinLeader(ctx context.Context, addr string, req cluster.JoinRequest) error {
	return Err(p.m.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", joinBody(req), nil, nil))
}

// Remove asks the node at addr (the leader) to remove a server.
func (p *Client) Remove(ctx context.Context, addr string, req cluster.RemoveRequest) error {
	body := wire.RemoveRequest{NodeID: req.NodeID, Reason: req.Reason, By: req.Origin.By, Cause: req.Origin.Cause}
	return Err(p.m.Do(ctx, http.MethodPost, addr, "/v1/cluster/remove", body, nil, nil))
}

// Move asks the node at addr (the leader) to move a member.
func (p *Client) Move(ctx context.Context, addr string, req cluster.MoveRequest) error {
	body := wire.MoveMemberRequest{NodeID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr, By: req.Origin.By, Cause: req.Origin.Cause}
	return Err(p.m.Do(ctx, http.MethodPost, addr, "/v1/cluster/move-member", body, nil, nil))
}

// TransferLeader asks the leader at addr to hand leadership to to ("" for
// any voter) and returns its answer.
func (p *Client) TransferLeader(ctx context.Context, addr, to string) (wire.TransferLeaderResponse, error) {
	var out wire.TransferLeaderResponse
	err := p.m.Do(ctx, http.MethodPost, addr, "/v1/cluster/transfer-leader", wire.TransferLeaderRequest{To: to}, &out, nil)
	return out, Err(err)
}

// RegisterNode sends a signed node record to the leader at addr.
func (p *Client) RegisterNode(ctx context.Context, addr string, rec cluster.SignedNode) error {
	return Err(p.m.Do(ctx, http.MethodPost, addr, "/v1/internal/register", rec, nil, nil))
}

// ReadIndex asks the leader at addr for a linearizable read index.
func (p *Client) ReadIndex(ctx context.Context, addr string) (uint64, error) {
	var r wire.ReadIndexResponse
	err := p.m.Do(ctx, http.MethodGet, addr, "/v1/internal/read-index", nil, &r, nil)
	return r.Index, Err(err)
}

// Propose sends node-originated commands to the leader at addr.
func (p *Client) Propose(ctx context.Context, addr string, sp cluster.SignedProposal) ([]fsm.Result, error) {
	var res []fsm.Result
	err := p.m.Do(ctx, http.MethodPost, addr, "/v1/internal/propose", sp, &res, nil)
	return res, Err(err)
}

// InvokePrepared hands prepared requests to the leader at addr.
func (p *Client) InvokePrepared(ctx context.Context, addr string, reqs []cluster.Prepared) (cluster.PreparedAnswer, error) {
	var a cluster.PreparedAnswer
	err := p.mp.Do(ctx, http.MethodPost, addr, "/v1/internal/invoke-prepared", reqs, &a, nil)
	return a, Err(err)
}

// Relay sends a request body as it came (an invocation batch) to the
// public API at addr and returns the answer's bytes. An API error comes
// back as *client.APIError.
func (p *Client) Relay(ctx context.Context, method, addr, path string, body io.Reader, hdr http.Header) (client.Raw, error) {
	var raw client.Raw
	err := p.c.DoRaw(ctx, method, addr, path, body, &raw, hdr)
	return raw, err
}

// RelayToMember is Relay to a member's node-to-node channel (the leader,
// which serves it without forwarding again).
func (p *Client) RelayToMember(ctx context.Context, method, addr, path string, body io.Reader, hdr http.Header) (client.Raw, error) {
	var raw client.Raw
	err := p.m.DoRaw(ctx, method, addr, path, body, &raw, hdr)
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
