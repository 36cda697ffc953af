package gossip

import "github.com/cnv-project/cnv/runtime/cnverr"

var (
	// ErrInvalidConfig wraps every Config validation failure.
	ErrInvalidConfig = cnverr.New(cnverr.InvalidInput, "gossip: invalid config")
	// ErrInvalidMeta wraps every failure to decode or validate a member's
	// metadata.
	ErrInvalidMeta = cnverr.New(cnverr.InvalidInput, "gossip: invalid member metadata")
	// ErrInvalidState wraps every failure to decode a push/pull state.
	ErrInvalidState = cnverr.New(cnverr.InvalidInput, "gossip: invalid exchanged state")
	// ErrSnapshotMismatch is returned when a fetched graph snapshot does not
	// decode to the (index, hash) its source advertised.
	ErrSnapshotMismatch = cnverr.New(cnverr.InvariantBreach, "gossip: graph snapshot does not match its advertisement")
	// ErrStaleGraph is returned by PublishGraph for a snapshot older than the
	// one already held.
	ErrStaleGraph = cnverr.New(cnverr.Conflict, "gossip: graph snapshot older than the current one")
	// ErrNotServer is returned when an edge node tries to publish a graph.
	ErrNotServer = cnverr.New(cnverr.PermissionDenied, "gossip: only servers publish graph snapshots")
	// ErrJoin is returned when no given address could be joined.
	ErrJoin = cnverr.New(cnverr.Unavailable, "gossip: join failed")
	// ErrShutdown is returned by calls on a gossip instance that was shut
	// down.
	ErrShutdown = cnverr.New(cnverr.Unavailable, "gossip: shut down")
)
