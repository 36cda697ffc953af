package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// Read selects a read's consistency: "linearizable" (default for ledger
// and delegation reads) or "stale", optionally at least MinIndex.
type Read struct {
	Consistency string
	MinIndex    uint64
}

func (r Read) values() url.Values {
	v := url.Values{}
	if r.Consistency != "" {
		v.Set("consistency", r.Consistency)
	}
	if r.MinIndex > 0 {
		v.Set("min_index", strconv.FormatUint(r.MinIndex, 10))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// Invoke signs invs as one batch with the client key and submits it to
// addr. A whole-request rejection is an *APIError; per-invocation
// rejections are in each Outcome's Error.
func (c *Client) Invoke(ctx context.Context, addr string, invs ...invocation.Invocation) ([]wire.Outcome, error) {
	if c.opts.Key == nil {
		return nil, cnverr.New(cnverr.InvalidInput, "invoke needs a key")
	}
	for i := range invs {
		if invs[i].RequestID == "" {
			invs[i].RequestID = NewRequestID()
		}
	}
	signed, err := invocation.Sign(c.opts.Key, invs)
	if err != nil {
		return nil, err
	}
	outs, err := c.InvokeSigned(ctx, addr, &signed)
	if err == nil && len(outs) != len(invs) {
		return nil, fmt.Errorf("node answered %d results for %d invocations", len(outs), len(invs))
	}
	return outs, err
}

// InvokeSigned submits an already signed batch.
func (c *Client) InvokeSigned(ctx context.Context, addr string, s *invocation.Signed) ([]wire.Outcome, error) {
	var resp wire.InvokeResponse
	if err := c.Do(ctx, http.MethodPost, addr, "/v1/invoke", s, &resp, nil); err != nil {
		return nil, err
	}
	return resp.Results, nil
}

// NewRequestID returns a random request id.
func NewRequestID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "r-" + hex.EncodeToString(b[:])
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context, addr string) (wire.Status, error) {
	var st wire.Status
	err := c.Do(ctx, http.MethodGet, addr, "/v1/cluster/status", nil, &st, nil)
	return st, err
}

// Members lists the cluster's servers as addr sees them.
func (c *Client) Members(ctx context.Context, addr string) ([]wire.Member, error) {
	var ms []wire.Member
	err := c.Do(ctx, http.MethodGet, addr, "/v1/cluster/members", nil, &ms, nil)
	return ms, err
}

// Keys lists the nodes' certificate-signing keys.
func (c *Client) Keys(ctx context.Context, addr string) ([]wire.NodeKey, error) {
	var ks []wire.NodeKey
	err := c.Do(ctx, http.MethodGet, addr, "/v1/cluster/keys", nil, &ks, nil)
	return ks, err
}

// Join tells the node at addr to join the cluster member belongs to.
func (c *Client) Join(ctx context.Context, addr, member string) error {
	return c.Do(ctx, http.MethodPost, addr, "/v1/cluster/join", wire.JoinRequest{Members: []string{member}}, nil, nil)
}

// Leave makes the node at addr leave the cluster (it hands leadership
// over first) and stop.
func (c *Client) Leave(ctx context.Context, addr string) error {
	return c.Do(ctx, http.MethodPost, addr, "/v1/cluster/leave", struct{}{}, nil, nil)
}

// Remove removes server nodeID from the cluster through addr.
func (c *Client) Remove(ctx context.Context, addr, nodeID string) error {
	return c.Do(ctx, http.MethodPost, addr, "/v1/cluster/remove", wire.RemoveRequest{NodeID: nodeID}, nil, nil)
}

// MoveMember tells the cluster (through addr) that member nodeID now
// listens at raftAddr (and apiAddr, when not ""): the leader changes its
// address in the Raft configuration and in its node record.
func (c *Client) MoveMember(ctx context.Context, addr, nodeID, raftAddr, apiAddr string) error {
	return c.Do(ctx, http.MethodPost, addr, "/v1/cluster/move-member",
		wire.MoveMemberRequest{NodeID: nodeID, RaftAddr: raftAddr, APIAddr: apiAddr}, nil, nil)
}

// TransferLeader asks the cluster (through addr) to hand leadership to
// the voter to ("" for any up-to-date voter); the answer names the new
// leader.
func (c *Client) TransferLeader(ctx context.Context, addr, to string) (wire.TransferLeaderResponse, error) {
	var out wire.TransferLeaderResponse
	err := c.Do(ctx, http.MethodPost, addr, "/v1/cluster/transfer-leader", wire.TransferLeaderRequest{To: to}, &out, nil)
	return out, err
}

// LedgerStatus returns the ledger's size and root at the read's index.
func (c *Client) LedgerStatus(ctx context.Context, addr string, r Read) (wire.LedgerStatus, error) {
	var st wire.LedgerStatus
	err := c.Do(ctx, http.MethodGet, addr, withQuery("/v1/ledger/status", r.values()), nil, &st, nil)
	return st, err
}

// LedgerEvents returns up to limit events from start, and the next start.
func (c *Client) LedgerEvents(ctx context.Context, addr string, start uint64, limit int, r Read) ([]wire.Event, uint64, error) {
	v := r.values()
	v.Set("start", strconv.FormatUint(start, 10))
	v.Set("limit", strconv.Itoa(limit))
	var p wire.EventPage
	if err := c.Do(ctx, http.MethodGet, addr, withQuery("/v1/ledger/events", v), nil, &p, nil); err != nil {
		return nil, 0, err
	}
	next := start + uint64(len(p.Events))
	if len(p.Events) > 0 {
		next = p.Events[len(p.Events)-1].Index + 1
	}
	return p.Events, next, nil
}

// LedgerQuery runs a query (filters as query parameters: actor, tenant,
// correlation_id, capability, type, decision, since, until, start, limit).
func (c *Client) LedgerQuery(ctx context.Context, addr string, filters url.Values, r Read) (wire.EventPage, error) {
	v := r.values()
	for k, vs := range filters {
		v[k] = vs
	}
	var p wire.EventPage
	err := c.Do(ctx, http.MethodGet, addr, withQuery("/v1/ledger/query", v), nil, &p, nil)
	return p, err
}

// Delegation returns a delegation link's replicated state.
func (c *Client) Delegation(ctx context.Context, addr, hash string, r Read) (wire.LinkState, error) {
	var ls wire.LinkState
	err := c.Do(ctx, http.MethodGet, addr, withQuery("/v1/delegations/"+url.PathEscape(hash), r.values()), nil, &ls, nil)
	return ls, err
}

// Get fetches any API path into out (for the CLI's generic reads).
func (c *Client) Get(ctx context.Context, addr, path string, out any) error {
	return c.Do(ctx, http.MethodGet, addr, path, nil, out, nil)
}
