package client

import (
	"context"
	"io"
	"strconv"

	"github.com/cnv-project/cnv/wire"
)

// SnapshotStream is an open snapshot download (GET /v1/snapshot).
type SnapshotStream struct {
	// Body is the snapshot file; the caller reads and closes it.
	Body io.ReadCloser
	// Size is the file's announced length (-1 when not announced).
	Size int64
	// Node is the node that serves it; Index the Raft index it holds.
	Node  string
	Index uint64
}

// Snapshot asks a node for a snapshot of the cluster's replicated state,
// taken at a linearizable point. addrs may list several endpoints: the
// request fails over (see Stream) until one starts answering; ctx, not the
// client's Timeout, bounds the transfer. The cluster token (Options.Token)
// or, over TLS, a client certificate is required when the cluster guards
// membership changes.
func (c *Client) Snapshot(ctx context.Context, addrs string) (*SnapshotStream, error) {
	resp, err := c.Stream(ctx, addrs, "/v1/snapshot")
	if err != nil {
		return nil, err
	}
	idx, _ := strconv.ParseUint(resp.Header.Get(wire.HeaderIndex), 10, 64)
	return &SnapshotStream{Body: resp.Body, Size: resp.ContentLength, Node: resp.Header.Get(wire.HeaderNode), Index: idx}, nil
}
