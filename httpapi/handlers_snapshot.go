package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// Snapshotter is what GET /v1/snapshot asks of the node; *cluster.Node
// implements it. A Node without it answers 404.
type Snapshotter interface {
	Backup(ctx context.Context) (*cluster.Backup, error)
}

var _ Snapshotter = (*cluster.Node)(nil)

var errNoSnapshots = cnverr.New(cnverr.NotFound, "this node serves no snapshots")

// handleSnapshot streams a snapshot of the replicated state (package
// cluster/backup's file) taken at a linearizable point; its length is
// announced, the Raft index it holds is in X-Cnv-Index.
func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	sn, ok := s.node.(Snapshotter)
	if !ok {
		httpx.Error(w, r, errNoSnapshots)
		return
	}
	b, err := sn.Backup(r.Context())
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	defer b.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(b.Size(), 10))
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="cnv-%s-%d.snap"`, b.Meta.NodeID, b.Meta.RaftIndex))
	h.Set(wire.HeaderIndex, strconv.FormatUint(b.Meta.RaftIndex, 10))
	w.WriteHeader(http.StatusOK)
	if n, err := b.WriteTo(w); err != nil {
		s.log.Warn("snapshot stream stopped", "error", err, "sent", n, "size", b.Size())
	}
}
